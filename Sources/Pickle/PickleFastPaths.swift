// Direct encodings of the values a task queue moves most: single integers and strings.
// They produce exactly what the general reader and writer would, without building a graph
// walk, and the general paths use them for single-value pickles.

extension PickleWriter {
    /// The protocol 4 pickle of a Python `str` given as UTF-8, as `pickle.dumps(s, 4)` writes it.
    public static func pickle(stringUTF8 utf8: some Collection<UInt8>) -> [UInt8] {
        let count = utf8.count
        guard count < frameTarget else {
            let graph = PickleGraph(uncheckedNodes: [.string(utf8: Array(utf8))], root: 0)
            return (try? PickleWriter.write(graph)) ?? []
        }
        let header = count < 256 ? 2 : 5
        let body = header + count + 2  // + MEMOIZE + STOP
        var out: [UInt8] = []
        out.reserveCapacity(body + 11)
        out.append(Opcode.proto)
        out.append(4)
        if body >= 4 {
            out.append(Opcode.frame)
            for shift in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(body) >> (8 * UInt64(shift)))) }
        }
        if count < 256 {
            out.append(Opcode.shortBinUnicode)
            out.append(UInt8(count))
        } else {
            out.append(Opcode.binUnicode)
            for shift in 0..<4 { out.append(UInt8(truncatingIfNeeded: UInt32(count) >> (8 * UInt32(shift)))) }
        }
        out.append(contentsOf: utf8)
        out.append(Opcode.memoize)
        out.append(Opcode.stop)
        return out
    }

    /// The protocol 4 pickle of a Python `str`.
    public static func pickle(string: String) -> [UInt8] {
        pickle(stringUTF8: string.utf8)
    }

    /// The protocol 4 pickle of a Python `int`, as `pickle.dumps(n, 4)` writes it.
    public static func pickle(integer value: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(22)
        appendPickle(integer: value, to: &out)
        return out
    }

    /// Appends the protocol 4 pickle of a Python `int` to `out`: many of them into one array
    /// cost one allocation, not one each.
    public static func appendPickle(integer value: Int, to out: inout [UInt8]) {
        // The body: the int opcode with its little-endian operand, then STOP.
        let operand = UInt64(bitPattern: Int64(value))
        let opcode: UInt8
        let width: Int
        if value >= 0, value <= 0xFF {
            (opcode, width) = (Opcode.binInt1, 1)
        } else if value >= 0, value <= 0xFFFF {
            (opcode, width) = (Opcode.binInt2, 2)
        } else if value >= Int(Int32.min), value <= Int(Int32.max) {
            (opcode, width) = (Opcode.binInt, 4)
        } else {
            // LONG1's operand is the shortest two's complement: the low bytes of the 64 bits.
            (opcode, width) = (Opcode.long1, LongEncoding.encode(value).count)
        }
        let longLength = opcode == Opcode.long1 ? 1 : 0
        let body = 1 + longLength + width + 1
        out.append(Opcode.proto)
        out.append(4)
        if body >= 4 {
            out.append(Opcode.frame)
            for shift in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(body) >> (8 * UInt64(shift)))) }
        }
        out.append(opcode)
        if longLength == 1 { out.append(UInt8(width)) }
        for shift in 0..<width { out.append(UInt8(truncatingIfNeeded: operand >> (8 * UInt64(shift)))) }
        out.append(Opcode.stop)
    }
}

extension PickleReader {
    /// The integer in a pickle that holds only a 64-bit integer, as `pickle.dumps(n)` writes it;
    /// nil for any other pickle (read those with ``read(_:limits:)``).
    public static func integer(in bytes: [UInt8]) -> Int? {
        guard bytes.count <= 32, case .int(let value) = singleInteger(bytes) else { return nil }
        return value
    }

    /// Reads a pickle that holds only one integer (PROTO, optional FRAME, one int opcode, STOP),
    /// or returns nil so the general reader takes over (and reports any error itself).
    static func singleInteger(_ bytes: [UInt8]) -> PickleNode? {
        var i = 0
        let n = bytes.count
        if n >= 2, bytes[0] == Opcode.proto, bytes[1] <= 5 { i = 2 }
        if i + 9 <= n, bytes[i] == Opcode.frame {
            // The frame must hold exactly the rest of the pickle, as a writer would make it.
            var length = 0
            for shift in 0..<8 { length |= Int(bytes[i + 1 + shift]) << (8 * shift) }
            guard length == n - i - 9 else { return nil }
            i += 9
        }
        guard i < n else { return nil }
        let opcode = bytes[i]
        i += 1
        let node: PickleNode
        switch opcode {
        case Opcode.binInt1:
            guard i + 2 == n else { return nil }
            node = .int(Int(bytes[i]))
            i += 1
        case Opcode.binInt2:
            guard i + 3 == n else { return nil }
            node = .int(Int(bytes[i]) | Int(bytes[i + 1]) << 8)
            i += 2
        case Opcode.binInt:
            guard i + 5 == n else { return nil }
            let raw =
                UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
            node = .int(Int(Int32(bitPattern: raw)))
            i += 4
        case Opcode.long1:
            guard i < n else { return nil }
            let count = Int(bytes[i])
            guard count <= 8, i + 1 + count + 1 == n else { return nil }
            node = LongEncoding.decode(bytes[(i + 1)..<(i + 1 + count)])
            i += 1 + count
        default:
            return nil
        }
        guard bytes[i] == Opcode.stop else { return nil }
        return node
    }
}
