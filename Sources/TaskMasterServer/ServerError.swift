/// An error of the master daemon itself (as opposed to one client's request).
public struct ServerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The listening socket could not be opened.
        public static let bindFailed = Code("bindFailed")
        /// The authkey can't be used.
        public static let invalidAuthKey = Code("invalidAuthKey")
        /// The data directory can't be opened or read.
        public static let storageFailed = Code("storageFailed")
        /// The TLS certificate or key can't be used.
        public static let tlsFailed = Code("tlsFailed")

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
