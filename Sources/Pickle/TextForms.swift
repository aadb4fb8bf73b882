import BigInt

/// Parsers for the text arguments of protocol 0 opcodes (INT, LONG, FLOAT, STRING, UNICODE,
/// GLOBAL), as CPython's unpickler reads them.
enum TextForms {
    typealias MakeError = (PickleError.Code, String) -> PickleError

    /// Python refuses to convert longer decimal strings to int (`sys.get_int_max_str_digits`).
    static let maxDigits = 4300

    static func int(_ line: ArraySlice<UInt8>, limits: PickleLimits, error: MakeError) throws(PickleError) -> PickleNode
    {
        if line.elementsEqual("00".utf8) { return .bool(false) }
        if line.elementsEqual("01".utf8) { return .bool(true) }
        return try decimal(line, limits: limits, error: error)
    }

    static func long(
        _ line: ArraySlice<UInt8>,
        limits: PickleLimits,
        error: MakeError
    ) throws(PickleError) -> PickleNode {
        var digits = line
        if digits.last == UInt8(ascii: "L") { digits = digits.dropLast() }
        return try decimal(digits, limits: limits, error: error)
    }

    private static func decimal(
        _ text: ArraySlice<UInt8>,
        limits: PickleLimits,
        error: MakeError
    ) throws(PickleError)
        -> PickleNode
    {
        var body = text
        var negative = false
        if let sign = body.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
            negative = sign == UInt8(ascii: "-")
            body = body.dropFirst()
        }
        guard !body.isEmpty, body.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw error(.invalidValue, "not a decimal integer")
        }
        guard body.count <= min(maxDigits, limits.maxIntegerBytes * 3) else {
            throw error(.limitExceeded, "a text integer of \(body.count) digits")
        }
        let string = String(decoding: body, as: UTF8.self)
        if body.count <= 18, let small = Int(string) { return .int(negative ? -small : small) }
        guard let big = BigInt(string, radix: 10) else { throw error(.invalidValue, "not a decimal integer") }
        return PickleNode.integer(negative ? -big : big)
    }

    static func float(_ line: ArraySlice<UInt8>, error: MakeError) throws(PickleError) -> PickleNode {
        guard line.count <= 400, let value = Double(String(decoding: line, as: UTF8.self)) else {
            throw error(.invalidValue, "not a floating-point number")
        }
        return .float(value)
    }

    static func name(_ line: ArraySlice<UInt8>, error: MakeError) throws(PickleError) -> String {
        guard let string = String(validating: line, as: UTF8.self), !string.isEmpty else {
            throw error(.invalidValue, "a module or class name must be non-empty UTF-8")
        }
        return string
    }

    /// STRING's argument: a quoted Python 2 literal with backslash escapes.
    static func quotedString(_ line: ArraySlice<UInt8>, error: MakeError) throws(PickleError) -> [UInt8] {
        guard line.count >= 2, let first = line.first, first == line.last,
            first == UInt8(ascii: "'") || first == UInt8(ascii: "\"")
        else {
            throw error(.invalidValue, "the STRING opcode argument must be quoted")
        }
        let body = Array(line.dropFirst().dropLast())
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        var index = 0
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        while index < body.count {
            let c = body[index]
            index += 1
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                continue
            }
            guard index < body.count else { throw error(.invalidValue, "a trailing backslash in STRING") }
            let e = body[index]
            index += 1
            switch e {
            case UInt8(ascii: "\n"): break
            case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): out.append(e)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "v"): out.append(0x0B)
            case UInt8(ascii: "x"):
                guard index + 1 < body.count, let h = hex(body[index]), let l = hex(body[index + 1]) else {
                    throw error(.invalidValue, "a bad \\x escape in STRING")
                }
                out.append(h << 4 | l)
                index += 2
            case 0x30...0x37:
                var value = Int(e - 0x30)
                var digits = 1
                while digits < 3, index < body.count, (0x30...0x37).contains(body[index]) {
                    value = value * 8 + Int(body[index] - 0x30)
                    index += 1
                    digits += 1
                }
                out.append(UInt8(truncatingIfNeeded: value))
            default:
                out.append(UInt8(ascii: "\\"))
                out.append(e)
            }
        }
        return out
    }

    /// UNICODE's argument: raw-unicode-escape (Latin-1 bytes with `\uXXXX`/`\UXXXXXXXX`),
    /// returned as UTF-8 (surrogates kept, as Python's `surrogatepass`).
    static func rawUnicodeEscape(_ line: ArraySlice<UInt8>, error: MakeError) throws(PickleError) -> [UInt8] {
        let bytes = Array(line)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: "\\"), index + 1 < bytes.count,
                bytes[index + 1] == UInt8(ascii: "u") || bytes[index + 1] == UInt8(ascii: "U")
            {
                let width = bytes[index + 1] == UInt8(ascii: "u") ? 4 : 8
                guard index + 2 + width <= bytes.count,
                    let scalar = UInt32(
                        String(decoding: bytes[(index + 2)..<(index + 2 + width)], as: UTF8.self),
                        radix: 16
                    ),
                    scalar <= 0x10FFFF
                else {
                    throw error(.invalidValue, "a bad \\u escape in UNICODE")
                }
                appendUTF8(scalar, to: &out)
                index += 2 + width
            } else {
                appendUTF8(UInt32(c), to: &out)
                index += 1
            }
        }
        return out
    }

    /// UTF-8 for a code point, surrogates included (as Python's `surrogatepass` writes them).
    static func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }
}
