/// How a client (task-worker, task-ctl) reaches and authenticates to a master.
public struct ConnectionSettings: Sendable {
    /// The masters' addresses, in the order they are tried: a client connects to the first
    /// that answers and moves on to the next when it loses its master. Never empty. Default
    /// `127.0.0.1:5000`.
    public var endpoints = [Endpoint(host: "127.0.0.1", port: 5000)]
    /// The shared authkey.
    public var authKey: Secret
    /// Largest frame accepted from the master. Default 16 MiB.
    public var maxFrameBytes = 16 << 20
    /// Time allowed for the TCP connect plus the handshake. Default 5 s.
    public var handshakeTimeout: Duration = .seconds(5)
    /// PEM CA bundle to verify the master's certificate with: setting it turns TLS on.
    public var tlsCA: String?
    /// PEM client certificate chain and key, for a master that requires client certificates.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// The name the master's certificate must carry; default the host of the address.
    public var tlsServerName: String?

    public init(authKey: Secret) {
        self.authKey = authKey
    }

    /// The first of ``endpoints``; setting it leaves it the only one.
    public var endpoint: Endpoint {
        get { endpoints.first ?? Endpoint(host: "127.0.0.1", port: 5000) }
        set { endpoints = [newValue] }
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
        public static let tlsCA = Setting("tls_ca", environment: "TASK_TLS_CA", flag: "--tls-ca")
        public static let tlsCertificate = Setting("tls_cert", environment: "TASK_TLS_CERT", flag: "--tls-cert")
        public static let tlsKey = Setting("tls_key", environment: "TASK_TLS_KEY", flag: "--tls-key")
        public static let tlsServerName = Setting(
            "tls_server_name",
            environment: "TASK_TLS_SERVER_NAME",
            flag: "--tls-server-name"
        )
        public static let all = [
            connect, maxFrameBytes, handshakeTimeout, AuthKeySettings.file, tlsCA, tlsCertificate, tlsKey,
            tlsServerName,
        ]
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
        if let (items, source) = try reader.list(Keys.connect) {
            settings.endpoints = try endpoints(items, from: source)
        }
        if let bytes = try reader.int(Keys.maxFrameBytes, in: 1024...(1 << 30)) { settings.maxFrameBytes = bytes }
        if let seconds = try reader.double(Keys.handshakeTimeout, in: 0.1...300) {
            settings.handshakeTimeout = .milliseconds(Int64(seconds * 1000))
        }
        settings.tlsCA = try reader.string(Keys.tlsCA)
        settings.tlsCertificate = try reader.string(Keys.tlsCertificate)
        settings.tlsKey = try reader.string(Keys.tlsKey)
        settings.tlsServerName = try reader.string(Keys.tlsServerName)
        guard (settings.tlsCertificate == nil) == (settings.tlsKey == nil) else {
            throw ConfigurationError(
                .missing,
                setting: Keys.tlsKey.key,
                "a client certificate needs its key: give --tls-cert and --tls-key"
            )
        }
        if settings.tlsCertificate != nil, settings.tlsCA == nil {
            throw ConfigurationError(
                .missing,
                setting: Keys.tlsCA.key,
                "--tls-cert needs TLS on: give --tls-ca with the master's CA"
            )
        }
        return settings
    }

    /// The addresses of a `connect` list, or an error naming the item that is not one.
    private static func endpoints(
        _ items: [String],
        from source: SettingSource
    ) throws(ConfigurationError)
        -> [Endpoint]
    {
        let example = "expected HOST:PORT, or several separated by commas, e.g. 10.0.0.5:5000,10.0.0.6:5000"
        var endpoints: [Endpoint] = []
        for item in items {
            switch Endpoint.list(parsing: item) {
            case .success(let parsed):
                endpoints += parsed
            case .failure(let invalid):
                let what =
                    invalid.text.isEmpty ? "an empty master address" : "invalid master address \"\(invalid.text)\""
                throw ConfigurationError(
                    .invalidValue,
                    setting: Keys.connect.key,
                    "\(what) (from \(source)): \(example)"
                )
            }
        }
        guard !endpoints.isEmpty else {
            throw ConfigurationError(
                .invalidValue,
                setting: Keys.connect.key,
                "no master address (from \(source)): \(example)"
            )
        }
        return endpoints
    }
}
