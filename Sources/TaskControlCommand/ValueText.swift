import Pickle

/// How task-ctl shows a queued value: a number or text as itself, anything else Python-like.
enum ValueText {
    static func describe(_ payload: [UInt8]) -> String {
        guard let value = try? PickleReader.read(payload) else {
            return "<\(payload.count) bytes that are not a pickle>"
        }
        switch value.rootNode {
        case .int(let n): return "\(n)"
        case .bigInt(let n): return "\(n)"
        case .bool(let b): return b ? "True" : "False"
        case .none: return "None"
        case .float(let bits): return "\(Double(bitPattern: bits))"
        case .string: return value.stringValue ?? "<str with lone surrogates>"
        case .bytes(let bytes):
            return "b'"
                + bytes.map { byte in
                    (0x20..<0x7F).contains(byte) && byte != 0x27 && byte != 0x5C
                        ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16).leftPadded(2)
                }.joined() + "'"
        default: return "<\(value.typeName)>"
        }
    }

    /// A command-line word as a task value: an integer (any size) or a float if it reads as
    /// one, else a str.
    static func parse(_ word: String, forceString: Bool) -> PickleGraph {
        guard !forceString else { return .string(word) }
        if let n = Int(word) { return .int(n) }
        if let big = BigIntParsing.parse(word) { return .int(big) }
        if word.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let x = Double(word) {
            return PickleGraph(node: .float(x))
        }
        return .string(word)
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
