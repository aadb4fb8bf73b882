import Foundation

/// The example command lines that `--help` prints, as a person would copy them.
struct HelpExample: CustomStringConvertible {
    /// The line as printed, its `# comment` removed.
    var text: String
    /// Which help printed it, e.g. `task-ctl batch --help`.
    var source: String

    var description: String { "\(text)    (from \(source))" }

    /// Every example of a help text: the indented lines after `Example:` or `Examples:` up to
    /// the next blank line, and an example on the `Example:` line itself.
    static func all(inHelp help: String, source: String) -> [HelpExample] {
        var examples: [HelpExample] = []
        var inBlock = false
        for line in help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("Example:") || trimmed.hasPrefix("Examples:") {
                inBlock = true
                let rest = trimmed.drop { $0 != ":" }.dropFirst().trimmingCharacters(in: .whitespaces)
                if !rest.isEmpty { examples.append(HelpExample(text: withoutComment(rest), source: source)) }
                continue
            }
            if trimmed.isEmpty || !line.hasPrefix(" ") {
                inBlock = false
                continue
            }
            if inBlock { examples.append(HelpExample(text: withoutComment(trimmed), source: source)) }
        }
        return examples
    }

    /// `line` without a trailing `# comment` (a `#` after a space, outside quotes).
    static func withoutComment(_ line: String) -> String {
        var quote: Character?
        var previous: Character = " "
        for index in line.indices {
            let c = line[index]
            if let open = quote {
                if c == open { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#", previous == " " {
                return line[..<index].trimmingCharacters(in: .whitespaces)
            }
            previous = c
        }
        return line.trimmingCharacters(in: .whitespaces)
    }

    /// The example as words, quotes removed, and whether it is a shell pipeline.
    var words: (words: [String], isPipeline: Bool) {
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character?
        var pipeline = false
        for c in text {
            if let open = quote {
                if c == open { quote = nil } else { word.append(c) }
            } else if c == "\"" || c == "'" {
                quote = c
                inWord = true
            } else if c == " " {
                if inWord { words.append(word) }
                word = ""
                inWord = false
            } else {
                if c == "|" || c == ">" || c == "<" || c == ";" || c == "&" { pipeline = true }
                word.append(c)
                inWord = true
            }
        }
        if inWord { words.append(word) }
        return (words, pipeline)
    }

    /// Leading `NAME=value` words: variables set for the command.
    var assignments: [String: String] {
        var result: [String: String] = [:]
        for word in words.words {
            guard let equals = word.firstIndex(of: "="), word[..<equals].allSatisfy({ $0.isUppercase || $0 == "_" })
            else { break }
            result[String(word[..<equals])] = String(word[word.index(after: equals)...])
        }
        return result
    }

    /// The words after the assignments: the program and its arguments.
    var command: [String] { Array(words.words.dropFirst(assignments.count)) }
}
