import BigInt
import Pickle

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
        if let graph = try? PickleReader.read(payload), case .int(let n) = graph.rootNode,
            !n.multipliedReportingOverflow(by: n).overflow
        {
            return (resultPickle(n), false)
        }
        let outcome = outcome(forTask: payload)
        let pickled = PickleWriter.pickle(string: outcome.text)
        if case .failed = outcome { return (pickled, true) }
        return (pickled, false)
    }

    /// The result pickle for `n`: the `str` `"n * n = r"`, built straight into bytes.
    public static func resultPickle(_ n: Int) -> [UInt8] {
        let (square, overflow) = n.multipliedReportingOverflow(by: n)
        guard !overflow else { return PickleWriter.pickle(string: line(BigInt(n))) }
        var text: [UInt8] = []
        text.reserveCapacity(64)
        appendDecimal(n, to: &text)
        text += [0x20, 0x2A, 0x20]  // " * "
        appendDecimal(n, to: &text)
        text += [0x20, 0x3D, 0x20]  // " = "
        appendDecimal(square, to: &text)
        return PickleWriter.pickle(stringUTF8: text)
    }

    private static func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(0x2D) }
        var magnitude = value.magnitude
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = 0x30 + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            bytes.append(contentsOf: buffer[(20 - count)...])
        }
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

    /// The task pickle for an integer of any size.
    public static func task(_ n: BigInt) -> [UInt8] {
        (try? PickleGraph.int(n).pickled()) ?? []
    }
}
