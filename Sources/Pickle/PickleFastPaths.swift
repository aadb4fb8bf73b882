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
        var body: [UInt8] = []
        body.reserveCapacity(12)
        if value >= 0, value <= 0xFF {
            body = [Opcode.binInt1, UInt8(value)]
        } else if value >= 0, value <= 0xFFFF {
            body = [Opcode.binInt2, UInt8(value & 0xFF), UInt8(value >> 8)]
        } else if value >= Int(Int32.min), value <= Int(Int32.max) {
            let bits = UInt32(bitPattern: Int32(value))
            body = [Opcode.binInt] + (0..<4).map { UInt8(truncatingIfNeeded: bits >> (8 * UInt32($0))) }
        } else {
            let bytes = LongEncoding.encode(value)
            body = [Opcode.long1, UInt8(bytes.count)] + bytes
        }
        body.append(Opcode.stop)
        if body.count >= 4 {
            var out: [UInt8] = [Opcode.proto, 4, Opcode.frame]
            out.reserveCapacity(11 + body.count)
            for shift in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(body.count) >> (8 * UInt64(shift)))) }
            return out + body
        }
        return [Opcode.proto, 4] + body
    }
}

extension PickleReader {
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
