/// A problem with the durable store: opening, reading or writing it.
public struct StorageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of problem; extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The data directory or database can't be opened or created.
        public static let cannotOpen = Code("cannotOpen")
        /// Reading the stored tasks failed.
        public static let cannotRead = Code("cannotRead")
        /// Writing failed; nothing after it is durable.
        public static let cannotWrite = Code("cannotWrite")

        public var description: String { name }
    }

    public var code: Code
    /// The database file concerned.
    public var path: String
    public var message: String

    public init(_ code: Code, path: String, _ message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String { "\(message) (\(path))" }
}
