import Foundation
import TaskMasterStatus

/// Reads settings from three layers in one place: command-line flags override environment
/// variables, which override the JSON config file, which overrides the built-in defaults.
///
/// Every value is checked: a value that can't be used is an error naming where it came from,
/// never silently replaced by a default.
public struct SettingsReader: Sendable {
    private let flags: [String: String]
    private let environment: [String: String]
    private let filePath: String?
    private let file: [String: FileValue]

    /// A JSON value from the config file, kept Sendable.
    enum FileValue: Sendable, Hashable, Decodable {
        case string(String)
        case number(Double)
        case integer(Int)
        case bool(Bool)
        case object([String: FileValue])
        case array([FileValue])
        case null

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let bool = try? container.decode(Bool.self) {
                self = .bool(bool)
            } else if let int = try? container.decode(Int.self) {
                self = .integer(int)
            } else if let double = try? container.decode(Double.self) {
                self = .number(double)
            } else if let string = try? container.decode(String.self) {
                self = .string(string)
            } else if let object = try? container.decode([String: FileValue].self) {
                self = .object(object)
            } else {
                self = .array(try container.decode([FileValue].self))
            }
        }
    }

    /// - Parameters:
    ///   - flags: values given on the command line, by setting key (already split by the
    ///     argument parser; only flags the user gave).
    ///   - environment: the process environment.
    ///   - filePath: the JSON config file, if one was named.
    ///   - knownKeys: every key the file may hold; others are reported as typos.
    public init(
        flags: [String: String],
        environment: [String: String],
        filePath: String?,
        knownKeys: Set<String>
    ) throws(ConfigurationError) {
        self.flags = flags
        self.environment = environment
        self.filePath = filePath
        guard let filePath else {
            self.file = [:]
            return
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: filePath))
        } catch {
            throw ConfigurationError(
                .unreadableFile,
                setting: nil,
                "can't read the config file \(filePath): \(Self.fileProblem(error))"
            )
        }
        let parsed: FileValue
        do {
            parsed = try JSONDecoder().decode(FileValue.self, from: data)
        } catch {
            throw ConfigurationError(
                .unreadableFile,
                setting: nil,
                "the config file \(filePath) is not valid JSON; find the mistake with: python3 -m json.tool \(filePath)"
            )
        }
        guard case .object(let object) = parsed else {
            throw ConfigurationError(
                .unreadableFile,
                setting: nil,
                "the config file \(filePath) must hold a JSON object"
            )
        }
        // Keys starting with "_" are comments, as in the example files.
        let unknown = object.keys.filter { !$0.hasPrefix("_") && !knownKeys.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw ConfigurationError(
                .unknownKey,
                setting: unknown[0],
                "unknown key \"\(unknown[0])\" in \(filePath); known keys: \(knownKeys.sorted().joined(separator: ", "))"
            )
        }
        self.file = object
    }

    /// The raw value of a setting and where it came from, searching flags, environment, file.
    func lookup(_ setting: Setting) -> (FileValue, SettingSource)? {
        if let flag = setting.flag, let value = flags[setting.key] {
            return (.string(value), .flag(flag))
        }
        if let name = setting.environment, let value = environment[name], !value.isEmpty {
            return (.string(value), .environment(name))
        }
        if let value = file[setting.key], value != .null, let filePath {
            return (value, .file(path: filePath, key: setting.key))
        }
        return nil
    }

    private func invalid(
        _ setting: Setting,
        _ value: FileValue,
        _ source: SettingSource,
        _ expected: String
    )
        -> ConfigurationError
    {
        ConfigurationError(
            .invalidValue,
            setting: setting.key,
            "invalid value \(value.shortDescription) for \(setting.key) (from \(source)): expected \(expected)"
        )
    }

    /// A string setting.
    public func string(_ setting: Setting) throws(ConfigurationError) -> String? {
        guard let (value, source) = lookup(setting) else { return nil }
        guard case .string(let string) = value else { throw invalid(setting, value, source, "a string") }
        return string
    }

    /// A list setting: a JSON array of strings, or text whose items are separated by commas
    /// (the items still hold their own commas then; split them as the setting needs). Returns
    /// the items and where they came from.
    public func list(_ setting: Setting) throws(ConfigurationError) -> (items: [String], source: SettingSource)? {
        guard let (value, source) = lookup(setting) else { return nil }
        switch value {
        case .string(let text):
            return ([text], source)
        case .array(let elements):
            var items: [String] = []
            for element in elements {
                guard case .string(let text) = element else {
                    throw invalid(setting, value, source, "a string or an array of strings")
                }
                items.append(text)
            }
            return (items, source)
        default:
            throw invalid(setting, value, source, "a string or an array of strings")
        }
    }

    /// A duration setting within `range`: a number of seconds (`30`, `2.5`), or a number with
    /// a unit, `ms`, `s`, `m` or `h` (`500ms`, `30s`, `2m`, `1h`).
    public func duration(_ setting: Setting, in range: ClosedRange<Duration>) throws(ConfigurationError) -> Duration? {
        guard let (value, source) = lookup(setting) else { return nil }
        let expected =
            "a duration from \(DurationText.describe(range.lowerBound)) to \(DurationText.describe(range.upperBound)), e.g. 30s, 2m or 500ms"
        let duration: Duration?
        switch value {
        case .integer(let i): duration = DurationText.parse("\(i)")
        case .number(let d): duration = DurationText.parse("\(d)")
        case .string(let s): duration = DurationText.parse(s)
        default: duration = nil
        }
        guard let duration, range.contains(duration) else { throw invalid(setting, value, source, expected) }
        return duration
    }

    /// A setting that must be one of the cases of `type`, by name.
    public func choice<Choice: RawRepresentable & CaseIterable>(
        _ setting: Setting,
        as type: Choice.Type
    ) throws(ConfigurationError) -> Choice? where Choice.RawValue == String {
        guard let (value, source) = lookup(setting) else { return nil }
        guard case .string(let string) = value, let choice = Choice(rawValue: string) else {
            let names = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            throw invalid(setting, value, source, "one of \(names)")
        }
        return choice
    }

    /// A size in bytes (`512MiB`, `2GiB`, a plain number) or a share of the machine's memory
    /// (`50%`).
    public func memorySize(_ setting: Setting) throws(ConfigurationError) -> MemorySize? {
        guard let (value, source) = lookup(setting) else { return nil }
        let text: String?
        switch value {
        case .string(let s): text = s
        case .integer(let i): text = String(i)
        default: text = nil
        }
        guard let text, let size = MemorySize(parsing: text) else {
            throw invalid(setting, value, source, "a size such as 512MiB or 2GiB, or a share of memory such as 50%")
        }
        return size
    }

    /// A JSON object of sizes from the config file only, e.g. `{"task": "64MiB"}`.
    public func byteCountTable(_ setting: Setting) throws(ConfigurationError) -> [String: ByteCount] {
        guard let (value, source) = lookup(setting) else { return [:] }
        guard case .object(let object) = value else { throw invalid(setting, value, source, "a JSON object") }
        var table: [String: ByteCount] = [:]
        for (key, entry) in object {
            let count: ByteCount?
            switch entry {
            case .integer(let i) where i >= 0: count = ByteCount(i)
            case .string(let s): count = ByteCount(parsing: s)
            default: count = nil
            }
            guard let count else { throw invalid(setting, entry, source, "sizes such as \"64MiB\" for \"\(key)\"") }
            table[key] = count
        }
        return table
    }

    /// An integer setting within `range`.
    public func int(_ setting: Setting, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let (value, source) = lookup(setting) else { return nil }
        let expected = "an integer from \(range.lowerBound) to \(range.upperBound)"
        let int: Int?
        switch value {
        case .integer(let i): int = i
        case .string(let s): int = Int(s.trimmingCharacters(in: .whitespaces))
        default: int = nil
        }
        guard let int, range.contains(int) else { throw invalid(setting, value, source, expected) }
        return int
    }

    /// A number setting within `range`, e.g. seconds.
    public func double(_ setting: Setting, in range: ClosedRange<Double>) throws(ConfigurationError) -> Double? {
        guard let (value, source) = lookup(setting) else { return nil }
        let expected = "a number from \(range.lowerBound) to \(range.upperBound)"
        let double: Double?
        switch value {
        case .integer(let i): double = Double(i)
        case .number(let d): double = d
        case .string(let s): double = Double(s.trimmingCharacters(in: .whitespaces))
        default: double = nil
        }
        guard let double, double.isFinite, range.contains(double) else {
            throw invalid(setting, value, source, expected)
        }
        return double
    }

    /// A boolean setting: JSON true/false, or `true/false/yes/no/1/0/on/off` from text.
    public func bool(_ setting: Setting) throws(ConfigurationError) -> Bool? {
        guard let (value, source) = lookup(setting) else { return nil }
        switch value {
        case .bool(let b): return b
        case .string(let s):
            switch s.lowercased() {
            case "1", "true", "yes", "on": return true
            case "0", "false", "no", "off": return false
            default: break
            }
        default: break
        }
        throw invalid(setting, value, source, "true or false")
    }

    /// A JSON object of integers from the config file only, e.g. per-queue capacities
    /// `{"task": 1000}`.
    public func integerTable(_ setting: Setting, in range: ClosedRange<Int>) throws(ConfigurationError) -> [String: Int]
    {
        guard let (value, source) = lookup(setting) else { return [:] }
        guard case .object(let object) = value else { throw invalid(setting, value, source, "a JSON object") }
        var table: [String: Int] = [:]
        for (key, entry) in object {
            guard case .integer(let int) = entry, range.contains(int) else {
                throw invalid(
                    setting,
                    entry,
                    source,
                    "integers from \(range.lowerBound) to \(range.upperBound) for \"\(key)\""
                )
            }
            table[key] = int
        }
        return table
    }

    /// A JSON object of strings from the config file only, e.g. `{"get_jobs": "jobs"}`.
    public func stringTable(_ setting: Setting) throws(ConfigurationError) -> [String: String] {
        guard let (value, source) = lookup(setting) else { return [:] }
        guard case .object(let object) = value else { throw invalid(setting, value, source, "a JSON object") }
        var table: [String: String] = [:]
        for (key, entry) in object {
            guard case .string(let string) = entry else {
                throw invalid(setting, entry, source, "strings for \"\(key)\"")
            }
            table[key] = string
        }
        return table
    }
}

extension SettingsReader {
    /// Why a file could not be read, in a few words (`no such file or directory`,
    /// `permission denied`): the system's reason where Foundation has one.
    static func fileProblem(_ error: any Error) -> String {
        let nsError = error as NSError
        if let posix = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code))).lowercased()
        }
        return nsError.localizedDescription
    }
}

extension SettingsReader.FileValue {
    var shortDescription: String {
        switch self {
        case .string(let s): return "\"\(s.prefix(80))\""
        case .number(let d): return "\(d)"
        case .integer(let i): return "\(i)"
        case .bool(let b): return "\(b)"
        case .object: return "an object"
        case .array: return "an array"
        case .null: return "null"
        }
    }
}
