/// One setting's names in each source: a config-file key, an environment variable and a flag.
public struct Setting: Hashable, Sendable {
    /// The key in the JSON config file, e.g. `max_frame_bytes`.
    public var key: String
    /// The environment variable, e.g. `TASK_MASTER_MAX_FRAME_BYTES`; nil if there is none.
    public var environment: String?
    /// The command-line flag, e.g. `--max-frame-bytes`; nil if there is none.
    public var flag: String?

    public init(_ key: String, environment: String?, flag: String?) {
        self.key = key
        self.environment = environment
        self.flag = flag
    }
}

/// Where a value was found, for error messages.
public enum SettingSource: Hashable, Sendable, CustomStringConvertible {
    case flag(String)
    case environment(String)
    case file(path: String, key: String)

    public var description: String {
        switch self {
        case .flag(let flag): return "flag \(flag)"
        case .environment(let name): return "environment variable \(name)"
        case .file(let path, let key): return "key \"\(key)\" in \(path)"
        }
    }
}
