import BigInt

enum BigIntParsing {
    /// A decimal integer of any size (optional sign), or nil.
    static func parse(_ text: String) -> BigInt? {
        var digits = Substring(text)
        if digits.first == "-" || digits.first == "+" { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 100_000, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber)
        else {
            return nil
        }
        return BigInt(text.hasPrefix("+") ? String(text.dropFirst()) : text, radix: 10)
    }
}
