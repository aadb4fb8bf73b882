import Foundation
import Logging

/// A swift-log handler that writes one JSON object per line.
///
/// Each line holds `ts` (RFC 3339, UTC, milliseconds), `level`, `label`, `message` and every
/// metadata key at the top level (nested metadata as JSON objects and arrays). A metadata key
/// named like one of the fixed fields (or `error`, when the event carries an error) is written as
/// `meta.<key>` so no line has a key twice.
public struct JSONLinesLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    private let label: String
    private let write: @Sendable (String) -> Void

    /// A handler writing to standard error.
    public static func standardError(label: String) -> JSONLinesLogHandler {
        JSONLinesLogHandler(label: label) { line in
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// A handler handing each finished line (newline included) to `write`.
    public init(label: String, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let explicit = event.metadata { merged.merge(explicit) { _, new in new } }

        var out = "{\"ts\":"
        JSONText.appendString(Self.timestamp(), to: &out)
        out += ",\"level\":"
        JSONText.appendString(event.level.rawValue, to: &out)
        out += ",\"label\":"
        JSONText.appendString(label, to: &out)
        out += ",\"message\":"
        JSONText.appendString(event.message.description, to: &out)
        if let error = event.error {
            out += ",\"error\":"
            JSONText.appendString("\(error)", to: &out)
        }
        // Sorted, so lines of the same event read alike.
        for key in merged.keys.sorted() {
            out += ","
            let taken = Self.fixedFields.contains(key) || (key == "error" && event.error != nil)
            JSONText.appendString(taken ? "meta.\(key)" : key, to: &out)
            out += ":"
            JSONText.append(merged[key]!, to: &out)
        }
        out += "}\n"
        write(out)
    }

    private static let fixedFields: Set<String> = ["ts", "level", "label", "message"]

    private static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = spec.tv_nsec / 1_000_000
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
            Int(parts.tm_year) + 1900,
            Int(parts.tm_mon) + 1,
            Int(parts.tm_mday),
            Int(parts.tm_hour),
            Int(parts.tm_min),
            Int(parts.tm_sec),
            Int(millis)
        )
    }
}
