/// What `task-ctl` can be configured with besides each command's own options, and the defaults.
///
/// Filled by ``load(flags:environment:)`` from command-line flags over environment variables
/// over defaults (task-ctl reads no config file).
public struct ControlConfiguration: Sendable {
    /// How to reach the master.
    public var connection: ConnectionSettings
    /// How long a command keeps trying when no master answers its first connection, with
    /// backoff between rounds of the addresses; nil (default) gives up after one round.
    public var waitForMaster: Duration?

    public init(connection: ConnectionSettings) {
        self.connection = connection
    }

    /// The settings, with their environment variables and flags.
    public enum Keys {
        public static let waitForMaster = Setting(
            "wait_for_master",
            environment: "TASK_CTL_WAIT_FOR_MASTER",
            flag: "--wait-for-master"
        )

        public static let all: [Setting] = ConnectionSettings.Keys.all + [waitForMaster]
    }

    /// Builds the configuration from flags (by setting key, only those given) and the
    /// environment. Returns warnings worth printing.
    public static func load(
        flags: [String: String],
        environment: [String: String]
    ) throws(ConfigurationError) -> (ControlConfiguration, warnings: [String]) {
        let reader = try SettingsReader(
            flags: flags,
            environment: environment,
            filePath: nil,
            knownKeys: Set(Keys.all.map(\.key))
        )
        var warnings: [String] = []
        var config = ControlConfiguration(
            connection: try ConnectionSettings.load(from: reader, environment: environment, warnings: &warnings)
        )
        config.waitForMaster = try reader.duration(Keys.waitForMaster, in: .zero...(.seconds(86400)))
        return (config, warnings)
    }
}
