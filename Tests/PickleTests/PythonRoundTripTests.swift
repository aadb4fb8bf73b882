import BigInt
import Foundation
import TestSupport
import Testing

@testable import Pickle

/// Round trips against CPython itself. Each needs `python3.11`, `python3.12` and `python3.13`
/// (pyenv or PATH) and fails, saying so, when one is missing.
@Suite struct PythonRoundTripTests {
    static let versions = ["3.11", "3.12", "3.13"]

    /// Python pickles a corpus with protocols 0 to 5; Swift reads each pickle and writes it
    /// back (protocol 4, or 5 for a protocol 5 input); Python unpickles Swift's bytes and
    /// compares them with the original value, shared references and cycles included. A
    /// protocol 4/5 pickle must come back byte for byte.
    @Test(arguments: versions)
    func corpusRoundTripsThroughSwift(version: String) async throws {
        let python = try PythonInterpreter.require(version)
        let generated = try await python.run(script: PythonScripts.generate, timeout: .seconds(120))
        try #require(generated.status == 0, "\(generated.stderrText)")
        var rewritten = ""
        var count = 0
        var exact = 0
        var differences: [String] = []
        for line in generated.stdoutLines {
            let fields = line.split(separator: " ")
            guard fields.count == 4, let proto = Int(fields[1]), let bytes = [UInt8](hexString: String(fields[3]))
            else {
                Issue.record("bad generator line: \(line.prefix(80))")
                continue
            }
            let graph = try PickleReader.read(bytes)
            let output = try PickleWriter.write(graph, protocolVersion: proto == 5 ? 5 : 4)
            if proto >= 4, fields[2] == "1" {
                exact += 1
                if let at = output.firstDifference(from: bytes) {
                    differences.append("value \(fields[0]) protocol \(proto): differs at byte \(at)")
                }
            }
            rewritten += "\(fields[0]) \(proto) \(output.hex)\n"
            count += 1
        }
        #expect(count > 900)
        #expect(exact > 300)
        #expect(
            differences.isEmpty,
            "\(differences.count) not byte-identical:\n\(differences.prefix(20).joined(separator: "\n"))"
        )
        let checked = try await python.run(
            script: PythonScripts.check,
            stdin: Data(rewritten.utf8),
            timeout: .seconds(120)
        )
        let failures = checked.stdoutLines.filter { $0.hasPrefix("FAIL") }
        #expect(failures.isEmpty, "\(failures.prefix(20).joined(separator: "\n"))")
        #expect(checked.stdoutLines.last == "CHECKED \(count) BAD 0", "\(checked.stderrText)")
    }

    /// Python loads every hand-written opcode sample and Swift's rewrite of it the same way,
    /// and sees every opcode the reader accepts in them.
    @Test(arguments: versions)
    func opcodeSamplesLoadTheSameInPython(version: String) async throws {
        let python = try PythonInterpreter.require(version)
        var input = ""
        for (index, sample) in OpcodeSample.all.enumerated() {
            let rewritten = try PickleReader.read(sample.bytes).pickled()
            input += "\(index) \(sample.bytes.hex) \(rewritten.hex)\n"
        }
        let run = try await python.run(script: PythonScripts.samples, stdin: Data(input.utf8), timeout: .seconds(60))
        let failures = run.stdoutLines.filter { $0.hasPrefix("FAIL") }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        #expect(run.stdoutLines.last == "SAMPLES \(OpcodeSample.all.count) BAD 0", "\(run.stderrText)")
        var seen = Set<String>()
        for line in run.stdoutLines where line.hasPrefix("OPS ") {
            let fields = line.split(separator: " ")
            if fields.count == 3 { seen.formUnion(fields[2].split(separator: ",").map(String.init)) }
        }
        let accepted = Set(Opcode.names.filter { !Opcode.refused.contains($0.key) }.values)
        #expect(accepted.subtracting(seen).isEmpty, "opcodes no sample holds: \(accepted.subtracting(seen).sorted())")
    }

    /// Values built in Swift (not read from Python) are written exactly as `pickle.dumps(v, 4)`.
    @Test(arguments: versions)
    func swiftBuiltValuesMatchPythonDumps(version: String) async throws {
        let python = try PythonInterpreter.require(version)
        var input = ""
        for value in Self.swiftBuiltValues {
            input += "\(Array(Self.pythonExpression(value).utf8).hex) \(try value.pickled().hex)\n"
        }
        let run = try await python.run(
            script: PythonScripts.compareDumps,
            stdin: Data(input.utf8),
            timeout: .seconds(60)
        )
        let mismatches = run.stdoutLines.filter { $0.hasPrefix("MISMATCH") }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(20).joined(separator: "\n"))")
        #expect(run.stdoutLines.last == "COMPARED \(Self.swiftBuiltValues.count) BAD 0", "\(run.stderrText)")
    }

    static let swiftBuiltValues: [PickleValue] = {
        var values: [PickleValue] = [
            .none, true, false, 0, 1, -1, 255, 256, 65535, 65536, .int(Int(Int32.min)), .int(Int.max), .int(Int.min),
        ]
        for bits in [31, 32, 63, 64, 100, 2039, 2040, 2047, 2048, 2100] {
            values += [.integer(BigInt(1) << bits), .integer(-(BigInt(1) << bits)), .integer((BigInt(1) << bits) - 1)]
        }
        values += [
            0.0, -0.0, 1.5, .float(.pi), .float(.infinity), .float(-.infinity), .float(.nan),
            .float(.leastNonzeroMagnitude), 1e308,
        ]
        values += [
            "", "a", "#RETURN", "7 * 7 = 49", "ünïcødé ☃ 𝄞", .string(String(repeating: "x", count: 255)),
            .string(String(repeating: "y", count: 256)), .string(String(repeating: "z", count: 70000)),
        ]
        values += [
            .bytes([]), .bytes([0, 255]), .bytes(Array(repeating: 7, count: 300)),
            .bytes(Array(repeating: 8, count: 70000)),
        ]
        values += [.byteArray([]), .byteArray([97, 98])]
        values += [
            .tuple([]), .tuple([1]), .tuple([1, 2]), .tuple([1, 2, 3]), .tuple([1, 2, 3, 4]),
            .tuple([1, "a", .none, 2.5, .bytes([98])]),
        ]
        values += [
            [], [1], [1, "two", 3.0, .none, [4, [5]]], .list((0..<1000).map { .int($0) }),
            .list((0..<1001).map { .int($0) }),
            .list((0..<20000).map { .string("s\($0)") }),
        ]
        values += [
            [:], ["a": 1], ["a": 1, "b": [2, 3], 3: "c", .tuple([1, 2]): .none],
            .dict((0..<1500).map { .init(.int($0), .string("\($0)")) }),
            .dict((0..<1000).map { .init(.int($0), .int($0)) }), .dict((0..<2000).map { .init(.int($0), .none) }),
        ]
        values += [
            .set([]), .set([1]), .set([1, 2, 3]), .set((0..<1000).map { .int($0) }), .set((0..<2500).map { .int($0) }),
        ]
        values += [.frozenSet([]), .frozenSet([1, 2]), .frozenSet((0..<1500).map { .int($0) })]
        values += [
            .tuple(["#RETURN", .none]), .tuple(["#ERROR", "text"]), .tuple([.none, "dummy", .tuple([]), [:]]),
        ]
        return values
    }()

    /// A Python expression for a plain value (strs and floats by their exact bytes).
    static func pythonExpression(_ value: PickleValue) -> String {
        func list(_ items: [PickleValue]) -> String { items.map(pythonExpression).joined(separator: ", ") }
        switch value {
        case .none: return "None"
        case .bool(let flag): return flag ? "True" : "False"
        case .int(let n): return "\(n)"
        case .bigInt(let n): return "\(n)"
        case .float(let double):
            let bits = double.bitPattern
            return
                "struct.unpack('>d', bytes.fromhex('\((0..<8).map { UInt8(truncatingIfNeeded: bits >> (56 - 8 * UInt64($0))) }.hex)'))[0]"
        case .string(let text): return "bytes.fromhex('\(Array(text.utf8).hex)').decode('utf-8', 'surrogatepass')"
        case .bytes(let bytes): return "bytes.fromhex('\(bytes.hex)')"
        case .byteArray(let bytes): return "bytearray.fromhex('\(bytes.hex)')"
        case .tuple(let items): return "(" + list(items) + (items.count == 1 ? ",)" : ")")
        case .list(let items): return "[" + list(items) + "]"
        case .dict(let entries):
            return "{"
                + entries.map { pythonExpression($0.key) + ": " + pythonExpression($0.value) }.joined(separator: ", ")
                + "}"
        case .set(let items): return items.isEmpty ? "set()" : "{" + list(items) + "}"
        case .frozenSet(let items): return "frozenset([" + list(items) + "])"
        case .graph: return "None"
        }
    }

    @Test func aMissingInterpreterIsAClearFailure() {
        #expect(PythonInterpreter.find("2.1") == nil)
        let error = #expect(throws: PythonInterpreter.Failure.self) { try PythonInterpreter.require("2.1") }
        #expect(error?.description.contains("python2.1 was not found") == true)
    }

    @Test func aRunawayScriptIsKilledAtItsTimeout() async throws {
        let python = try PythonInterpreter.require("3.13")
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: PythonInterpreter.Failure.self) {
            try await python.run(
                script: "import time\nprint('started', flush=True)\ntime.sleep(60)",
                timeout: .milliseconds(500)
            )
        }
        #expect(clock.now - start < .seconds(30))  // far below the script's 60 s, even on a loaded machine
        #expect(error?.description.contains("started") == true)
        let echo = try await python.run(
            script:
                "import sys; data = sys.stdin.buffer.read(); print(len(data), sys.argv[1:]); sys.stderr.write('e'); sys.exit(3)",
            arguments: ["a", "b c"],
            stdin: Data(repeating: 1, count: 1 << 20)
        )
        #expect(echo.status == 3)
        #expect(echo.stdoutLines == ["1048576 ['a', 'b c']"])
        #expect(echo.stderrText == "e")
    }
}
