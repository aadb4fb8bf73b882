import BigInt

/// Python's `encode_long` / `decode_long`: minimal two's-complement, little-endian.
enum LongEncoding {
    static func decode(_ bytes: ArraySlice<UInt8>) -> PickleNode {
        guard !bytes.isEmpty else { return .int(0) }
        let negative = bytes[bytes.endIndex - 1] & 0x80 != 0
        if bytes.count <= 8 {
            var value: UInt64 = negative ? .max : 0
            for (shift, byte) in bytes.enumerated() {
                value &= ~(UInt64(0xFF) << (8 * shift))
                value |= UInt64(byte) << (8 * shift)
            }
            return .int(Int(Int64(bitPattern: value)))
        }
        var words: [UInt] = []
        words.reserveCapacity(bytes.count / 8 + 1)
        var word: UInt = 0
        var shift = 0
        for byte in bytes {
            word |= UInt(byte) << shift
            shift += 8
            if shift == UInt.bitWidth {
                words.append(word)
                word = 0
                shift = 0
            }
        }
        if shift > 0 {
            if negative { word |= UInt.max << shift }
            words.append(word)
        }
        return PickleNode.integer(BigInt(words: words))
    }

    static func encode(_ value: Int) -> [UInt8] {
        guard value != 0 else { return [] }
        var bytes = withUnsafeBytes(of: Int64(value).littleEndian, Array.init)
        trim(&bytes, negative: value < 0)
        return bytes
    }

    static func encode(_ value: BigInt) -> [UInt8] {
        guard !value.isZero else { return [] }
        var bytes: [UInt8] = []
        let words = value.words
        bytes.reserveCapacity(words.count * MemoryLayout<UInt>.size)
        for word in words {
            for shift in stride(from: 0, to: UInt.bitWidth, by: 8) {
                bytes.append(UInt8(truncatingIfNeeded: word >> shift))
            }
        }
        trim(&bytes, negative: value.sign == .minus)
        return bytes
    }

    /// Drops redundant sign bytes, leaving the shortest two's-complement form.
    private static func trim(_ bytes: inout [UInt8], negative: Bool) {
        let fill: UInt8 = negative ? 0xFF : 0x00
        while bytes.count > 1, bytes[bytes.count - 1] == fill, (bytes[bytes.count - 2] & 0x80 != 0) == negative {
            bytes.removeLast()
        }
    }
}
