import Foundation

/// A parsed Prometheus text exposition (format 0.0.4): `# HELP` and `# TYPE` lines and samples,
/// checked strictly enough that malformed output fails the test.
struct PrometheusText {
    struct Sample: Hashable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// Help text by metric family name.
    var help: [String: String] = [:]
    /// Type (`counter`, `gauge`, `histogram`, …) by metric family name.
    var types: [String: String] = [:]
    var samples: [Sample] = []

    init(parsing text: String) throws {
        var seen = Set<Sample.Key>()
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                try parseComment(Substring(line), lineNumber)
                continue
            }
            let sample = try Self.parseSample(Substring(line), lineNumber)
            let family = family(of: sample.name)
            guard types[family] != nil else {
                throw AdminTestFailure("line \(lineNumber): sample of \(family) before its # TYPE line")
            }
            guard seen.insert(sample.key).inserted else {
                throw AdminTestFailure("line \(lineNumber): duplicate series \(sample.name)\(sample.labels)")
            }
            samples.append(sample)
        }
        guard text.isEmpty || text.hasSuffix("\n") else {
            throw AdminTestFailure("the exposition does not end with a line feed")
        }
    }

    /// The family a sample belongs to: histogram samples drop their `_bucket`/`_sum`/`_count`.
    func family(of name: String) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == "histogram" || types[base] == "summary" { return base }
        }
        return name
    }

    /// The value of the one sample named `name` whose labels are exactly `labels`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// Every sample named `name`.
    func series(_ name: String) -> [Sample] {
        samples.filter { $0.name == name }
    }

    private mutating func parseComment(_ line: Substring, _ lineNumber: Int) throws {
        let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0] == "#", parts[1] == "HELP" || parts[1] == "TYPE" else {
            return  // other comments are allowed and ignored
        }
        let name = String(parts[2])
        guard Self.isMetricName(name) else { throw AdminTestFailure("line \(lineNumber): bad metric name \(name)") }
        let rest = parts.count > 3 ? String(parts[3]) : ""
        if parts[1] == "HELP" {
            guard help[name] == nil else { throw AdminTestFailure("line \(lineNumber): second HELP for \(name)") }
            help[name] = rest.replacingOccurrences(of: "\\n", with: "\n").replacingOccurrences(of: "\\\\", with: "\\")
        } else {
            guard ["counter", "gauge", "histogram", "summary", "untyped"].contains(rest) else {
                throw AdminTestFailure("line \(lineNumber): unknown type \(rest)")
            }
            guard types[name] == nil else { throw AdminTestFailure("line \(lineNumber): second TYPE for \(name)") }
            guard !samples.contains(where: { family(of: $0.name) == name }) else {
                throw AdminTestFailure("line \(lineNumber): TYPE for \(name) after its samples")
            }
            types[name] = rest
        }
    }

    private static func parseSample(_ line: Substring, _ lineNumber: Int) throws -> Sample {
        func fail(_ why: String) -> AdminTestFailure { AdminTestFailure("line \(lineNumber): \(why): \(line)") }
        var rest = line[...]
        let name = String(rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" })
        guard isMetricName(name) else { throw fail("bad metric name") }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let labelName = String(rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
                guard !labelName.isEmpty, !(labelName.first?.isNumber ?? true) else { throw fail("bad label name") }
                rest = rest.dropFirst(labelName.count)
                guard rest.hasPrefix("=\"") else { throw fail("expected =\" after label \(labelName)") }
                rest = rest.dropFirst(2)
                var value = ""
                while true {
                    guard let c = rest.first else { throw fail("unterminated label value") }
                    rest = rest.dropFirst()
                    if c == "\"" { break }
                    if c == "\\" {
                        guard let escaped = rest.first else { throw fail("unterminated escape") }
                        rest = rest.dropFirst()
                        switch escaped {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw fail("bad escape \\\(escaped)")
                        }
                    } else {
                        value.append(c)
                    }
                }
                guard labels.updateValue(value, forKey: labelName) == nil else { throw fail("repeated label") }
                if rest.first == "," { rest = rest.dropFirst() }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { throw fail("expected a space before the value") }
        let fields = rest.split(separator: " ")
        guard fields.count == 1 || fields.count == 2 else { throw fail("expected value [timestamp]") }
        let value: Double
        switch fields[0] {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default:
            guard let number = Double(fields[0]) else { throw fail("bad value \(fields[0])") }
            value = number
        }
        if fields.count == 2, Int64(fields[1]) == nil { throw fail("bad timestamp") }
        return Sample(name: name, labels: labels, value: value)
    }

    private static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic || first == "_" || first == ":"
        else { return false }
        return name.unicodeScalars.allSatisfy {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "_" || $0 == ":"
        }
    }
}

extension PrometheusText.Sample {
    struct Key: Hashable {
        var name: String
        var labels: [String: String]
    }

    var key: Key { Key(name: name, labels: labels) }
}
