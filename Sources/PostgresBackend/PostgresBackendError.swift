/// An error of the PostgreSQL backend's set-up: a URL, a password file or a schema that can't be
/// used. (Queue operations answer ``QueueBackend/QueueError``s.)
public struct PostgresBackendError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The `--backend` URL can't be read.
        public static let invalidURL = Code("invalidURL")
        /// The password file can't be read or has no line for the database.
        public static let passwordFile = Code("passwordFile")
        /// The database refused or failed the schema's migration.
        public static let migrationFailed = Code("migrationFailed")

        public var description: String { name }
    }

    public var code: Code
    /// One line for the operator: what is wrong and what to do. Never holds a password.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
