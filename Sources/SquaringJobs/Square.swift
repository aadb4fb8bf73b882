import BigInt
import NIOCore
import Pickle
import TaskWire

/// The squaring job: what a worker makes of one task.
public enum Square {
    /// The outcome for one task value.
    public enum Outcome: Hashable, Sendable {
        /// `"n * n = r"`, exact for integers of any size.
        case squared(String)
        /// The task was not an integer (or not a readable value): an error text naming it.
        case failed(String)

        /// The text of the result.
        public var text: String {
            switch self {
            case .squared(let text), .failed(let text): return text
            }
        }
    }

    /// Squares the integer in a pickled task value.
    ///
    /// Never traps: a square past 64 bits is computed with `BigInt`, and a task that is not
    /// an integer — or not a valid pickle — gets an error outcome naming what it was.
    public static func outcome(forTask payload: [UInt8]) -> Outcome {
        let value: PickleGraph
        do {
            value = try PickleReader.read(payload)
        } catch {
            return .failed("error: the task is not a readable value (\(error))")
        }
        switch value.rootNode {
        case .int(let n):
            return .squared(line(n))
        case .bigInt(let n):
            return .squared(line(n))
        case .bool(let b):
            // Python's bool is an int: True squares to 1, as a Python worker's '%d' would say.
            return .squared(line(b ? 1 : 0))
        default:
            return .failed("error: the task is a \(value.typeName), not an int; only integers can be squared")
        }
    }

    /// The result pickle (a Python `str`) for a task pickle, and whether it failed.
    public static func result(forTask payload: [UInt8]) -> (payload: [UInt8], failed: Bool) {
        // The common case, a 64-bit int whose square fits, skips building any String.
        if let n = PickleReader.integer(in: payload), !n.multipliedReportingOverflow(by: n).overflow {
            return (resultPickle(n), false)
        }
        let outcome = outcome(forTask: payload)
        let pickled = PickleWriter.pickle(string: outcome.text)
        if case .failed = outcome { return (pickled, true) }
        return (pickled, false)
    }

    /// The result pickle for `n`: the `str` `"n * n = r"`, built straight into bytes.
    public static func resultPickle(_ n: Int) -> [UInt8] {
        guard !n.multipliedReportingOverflow(by: n).overflow else {
            return PickleWriter.pickle(string: line(BigInt(n)))
        }
        return [UInt8](unsafeUninitializedCapacity: maxResultPickle) { bytes, count in
            count = writeResultPickle(n, into: UnsafeMutableRawBufferPointer(bytes))
        }
    }

    /// Whether `payload` is the result pickle for `n`, compared without building it on the heap
    /// (a batch checks every result it gets).
    public static func isResultPickle(_ payload: ByteBuffer, of n: Int) -> Bool {
        guard !n.multipliedReportingOverflow(by: n).overflow else {
            return payload.readableBytesView.elementsEqual(resultPickle(n))
        }
        return withUnsafeTemporaryAllocation(byteCount: maxResultPickle, alignment: 1) { expected in
            let count = writeResultPickle(n, into: expected)
            return payload.withUnsafeReadableBytes { bytes in
                bytes.count == count && equal(bytes, UnsafeRawBufferPointer(expected), count: count)
            }
        }
    }

    /// The result pickle of a 64-bit square at most: 3 numbers of 20 characters, the text
    /// around them, and the pickle's 15 bytes of framing.
    private static let maxResultPickle = 96

    /// Writes the result pickle for `n` (whose square fits an `Int`) into `out`, as
    /// `PickleWriter.pickle(string:)` would write it; returns its length.
    private static func writeResultPickle(_ n: Int, into out: UnsafeMutableRawBufferPointer) -> Int {
        // The text first, after room for the header: its length is in the header.
        let header = 13  // PROTO 4, FRAME and its 8-byte length, SHORT_BINUNICODE and its length
        var end = header
        end = writeDecimal(n, into: out, at: end)
        for byte: UInt8 in [0x20, 0x2A, 0x20] {  // " * "
            out[end] = byte
            end += 1
        }
        end = writeDecimal(n, into: out, at: end)
        for byte: UInt8 in [0x20, 0x3D, 0x20] {  // " = "
            out[end] = byte
            end += 1
        }
        end = writeDecimal(n &* n, into: out, at: end)
        let textLength = end - header
        let frameLength = 2 + textLength + 2  // SHORT_BINUNICODE, its length, the text, MEMOIZE, STOP
        out[0] = 0x80  // PROTO
        out[1] = 4
        out[2] = 0x95  // FRAME
        for shift in 0..<8 { out[3 + shift] = UInt8(truncatingIfNeeded: frameLength >> (8 * shift)) }
        out[11] = 0x8C  // SHORT_BINUNICODE
        out[12] = UInt8(textLength)
        out[end] = 0x94  // MEMOIZE
        out[end + 1] = 0x2E  // STOP
        return end + 2
    }

    /// Writes `value` in decimal at `index`; returns the index after it.
    private static func writeDecimal(_ value: Int, into out: UnsafeMutableRawBufferPointer, at index: Int) -> Int {
        var index = index
        if value < 0 {
            out[index] = 0x2D
            index += 1
        }
        var magnitude = value.magnitude
        var digits = 1
        var limit: UInt = 10
        while digits < 20, magnitude >= limit {
            digits += 1
            limit &*= 10
        }
        // Two digits per division, from a table of "00" to "99".
        let pairs = digitPairs.utf8Start
        var position = index + digits
        while magnitude >= 100 {
            let pair = Int(magnitude % 100) * 2
            magnitude /= 100
            position -= 2
            out[position] = pairs[pair]
            out[position + 1] = pairs[pair + 1]
        }
        if magnitude >= 10 {
            out[position - 2] = pairs[Int(magnitude) * 2]
            out[position - 1] = pairs[Int(magnitude) * 2 + 1]
        } else {
            out[position - 1] = 0x30 + UInt8(magnitude)
        }
        return index + digits
    }

    private static let digitPairs: StaticString = """
        00010203040506070809101112131415161718192021222324252627282930313233343536373839\
        40414243444546474849505152535455565758596061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899
        """

    /// Whether the first `count` bytes of `a` and `b` are equal, compared eight at a time.
    private static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, count: Int) -> Bool {
        var offset = 0
        while offset + 8 <= count {
            if a.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                != b.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            {
                return false
            }
            offset += 8
        }
        while offset < count {
            if a[offset] != b[offset] { return false }
            offset += 1
        }
        return true
    }

    /// `"n * n = r"` for an integer.
    public static func line(_ n: Int) -> String {
        let (square, overflow) = n.multipliedReportingOverflow(by: n)
        if overflow { return line(BigInt(n)) }
        return "\(n) * \(n) = \(square)"
    }

    /// `"n * n = r"` for an integer of any size.
    public static func line(_ n: BigInt) -> String {
        let text = n.description
        return "\(text) * \(text) = \(n * n)"
    }

    /// The task pickle for an integer.
    public static func task(_ n: Int) -> [UInt8] {
        PickleWriter.pickle(integer: n)
    }

    /// The task pickles of many integers, as items to put: slices of one buffer, not a buffer
    /// each.
    public static func taskItems(_ numbers: some Collection<Int>) -> [NewItem] {
        var pickles: [UInt8] = []
        pickles.reserveCapacity(16 * numbers.count)
        var ends: [Int] = []
        ends.reserveCapacity(numbers.count)
        for n in numbers {
            PickleWriter.appendPickle(integer: n, to: &pickles)
            ends.append(pickles.count)
        }
        let buffer = ByteBuffer(bytes: pickles)
        var start = 0
        return ends.map { end in
            defer { start = end }
            return NewItem(payload: buffer.getSlice(at: start, length: end - start)!)
        }
    }

    /// The task pickle for an integer of any size.
    public static func task(_ n: BigInt) -> [UInt8] {
        (try? PickleGraph.int(n).pickled()) ?? []
    }
}
