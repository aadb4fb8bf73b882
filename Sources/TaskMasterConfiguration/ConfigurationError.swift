/// A configuration problem: a missing, unreadable or invalid setting.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of problem; extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// A value could not be read as the type the setting needs.
        public static let invalidValue = Code("invalidValue")
        /// A required setting has no value anywhere.
        public static let missing = Code("missing")
        /// The config file could not be read or parsed.
        public static let unreadableFile = Code("unreadableFile")
        /// The config file names a key no setting has.
        public static let unknownKey = Code("unknownKey")

        public var description: String { name }
    }

    public var code: Code
    /// The setting concerned (its config-file key), if any.
    public var setting: String?
    public var message: String

    public init(_ code: Code, setting: String?, _ message: String) {
        self.code = code
        self.setting = setting
        self.message = message
    }

    public var description: String { message }
}
