import Foundation
import Pickle
import TestSupport
import Testing

/// Python writes pickles of a corpus, Swift reads and rewrites them, Python checks it gets
/// the same values back (shared references and cycles included).
@Suite(.serialized) struct PickleRoundTripTests {
    @Test(arguments: ["3.11", "3.13"])
    func everyCorpusValueRoundTripsThroughSwift(version: String) async throws {
        let generated = try await Python.run(version, script: PythonCorpus.generator)
        #expect(generated.status == 0, "\(generated.stderr.joined(separator: "\n"))")
        var rewritten = ""
        var exactChecked = 0
        var count = 0
        for line in generated.stdout {
            let fields = line.split(separator: " ")
            guard fields.count == 4, let bytes = [UInt8](hex: String(fields[3])) else { continue }
            let graph = try PickleReader.read(bytes)
            let proto = Int(fields[1]) ?? 4
            let output = try PickleWriter.write(graph, protocolVersion: proto == 5 ? 5 : 4)
            if fields[2] == "1", proto == 4 {
                // Plain values: byte for byte what Python writes.
                let same = output == bytes
                let at = zip(output, bytes).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(output.count, bytes.count)
                #expect(same, "value \(fields[0]) differs from Python's protocol 4 bytes at byte \(at)")
                exactChecked += 1
            }
            rewritten += "\(fields[0]) \(proto) \(output.hexString)\n"
            count += 1
        }
        #expect(count > 400)
        #expect(exactChecked > 80)
        let checked = try await Python.run(version, script: PythonCorpus.checker, stdin: Data(rewritten.utf8))
        let failures = checked.stdout.filter { $0.hasPrefix("FAIL") }
        #expect(failures.isEmpty, "\(failures.prefix(20).joined(separator: "\n"))")
        #expect(checked.stdout.last == "CHECKED \(count) BAD 0", "\(checked.stderr.joined(separator: "\n"))")
    }
}
