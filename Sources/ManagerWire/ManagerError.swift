/// A message of Python's manager protocol that this side can't use.
public struct ManagerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The frame is not a readable pickle.
        public static let unreadablePickle = Code("unreadablePickle")
        /// A request is not `(ident, method, args, kwds)`.
        public static let malformedRequest = Code("malformedRequest")
        /// A reply is not `(kind, result)` with a kind this side knows.
        public static let malformedReply = Code("malformedReply")

        public var description: String { name }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
