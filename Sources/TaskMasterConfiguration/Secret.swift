import Foundation

/// Bytes that must never be printed, such as the authkey.
public struct Secret: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var description: String { "<redacted>" }
}

/// Where the authkey comes from, in order: `--authkey-file`, `TASK_AUTHKEY`,
/// `TASK_AUTHKEY_FILE`, `authkey_file` in the config file.
public enum AuthKeySettings {
    /// The authkey-file setting, shared by every command.
    public static let file = Setting("authkey_file", environment: "TASK_AUTHKEY_FILE", flag: "--authkey-file")
    /// The environment variable holding the key itself.
    public static let environmentVariable = "TASK_AUTHKEY"

    /// Loads the authkey, appending a warning if its file is readable by others.
    public static func load(
        from reader: SettingsReader,
        environment: [String: String],
        warnings: inout [String]
    ) throws(ConfigurationError) -> Secret {
        let flagFile = try reader.flagString(file)
        if flagFile == nil, let key = environment[environmentVariable], !key.isEmpty {
            return Secret(Array(key.utf8))
        }
        let configuredFile: String?
        if let flagFile {
            configuredFile = flagFile
        } else {
            configuredFile = try reader.string(file)
        }
        guard let path = configuredFile else {
            throw ConfigurationError(
                .missing,
                setting: file.key,
                "no authkey configured: set the environment variable TASK_AUTHKEY, or pass --authkey-file FILE"
                    + " (or authkey_file in the config file); every master and worker must use the same key"
            )
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationError(
                .unreadableFile,
                setting: file.key,
                "can't read the authkey file \(path): \(SettingsReader.fileProblem(error))"
            )
        }
        var bytes = Array(data)
        // A file written by `echo` ends in a newline that is not part of the key.
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        guard !bytes.isEmpty else {
            throw ConfigurationError(.invalidValue, setting: file.key, "the authkey file \(path) is empty")
        }
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let permissions = attributes[.posixPermissions] as? Int, permissions & 0o077 != 0
        {
            warnings.append("the authkey file \(path) is readable by other users; restrict it with: chmod 600 \(path)")
        }
        return Secret(bytes)
    }
}

extension SettingsReader {
    /// A string setting given as a flag, ignoring the other layers.
    func flagString(_ setting: Setting) throws(ConfigurationError) -> String? {
        guard let (value, source) = lookup(setting), case .flag = source else { return nil }
        guard case .string(let string) = value else { return nil }
        return string
    }
}
