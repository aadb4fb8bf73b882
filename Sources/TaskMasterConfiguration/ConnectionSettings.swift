/// How a client (task-worker, task-ctl) reaches and authenticates to a master.
public struct ConnectionSettings: Sendable {
    /// The master's address. Default `127.0.0.1:5000`.
    public var endpoint = Endpoint(host: "127.0.0.1", port: 5000)
    /// The shared authkey.
    public var authKey: Secret
    /// Largest frame accepted from the master. Default 16 MiB.
    public var maxFrameBytes = 16 << 20
    /// Time allowed for the TCP connect plus the handshake. Default 5 s.
    public var handshakeTimeout: Duration = .seconds(5)

    public init(authKey: Secret) {
        self.authKey = authKey
    }

    /// The settings of this struct, with their file keys, environment variables and flags.
    public enum Keys {
        public static let connect = Setting("connect", environment: "TASK_MASTER_ADDRESS", flag: "--connect")
        public static let maxFrameBytes = Setting(
            "max_frame_bytes",
            environment: "TASK_MAX_FRAME_BYTES",
            flag: "--max-frame-bytes"
        )
        public static let handshakeTimeout = Setting(
            "handshake_timeout",
            environment: "TASK_HANDSHAKE_TIMEOUT",
            flag: "--handshake-timeout"
        )
        public static let all = [connect, maxFrameBytes, handshakeTimeout, AuthKeySettings.file]
    }

    /// Fills the settings from `reader`, layered as it defines.
    public static func load(
        from reader: SettingsReader,
        environment: [String: String],
        warnings: inout [String]
    ) throws(ConfigurationError) -> ConnectionSettings {
        var settings = ConnectionSettings(
            authKey: try AuthKeySettings.load(from: reader, environment: environment, warnings: &warnings)
        )
        if let text = try reader.string(Keys.connect) {
            guard let endpoint = Endpoint(parsing: text) else {
                throw ConfigurationError(
                    .invalidValue,
                    setting: Keys.connect.key,
                    "invalid master address \"\(text)\": expected HOST:PORT, e.g. 10.0.0.5:5000"
                )
            }
            settings.endpoint = endpoint
        }
        if let bytes = try reader.int(Keys.maxFrameBytes, in: 1024...(1 << 30)) { settings.maxFrameBytes = bytes }
        if let seconds = try reader.double(Keys.handshakeTimeout, in: 0.1...300) {
            settings.handshakeTimeout = .milliseconds(Int64(seconds * 1000))
        }
        return settings
    }
}
