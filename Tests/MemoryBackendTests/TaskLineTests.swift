import Testing

@testable import MemoryBackend

/// The queue's task line, checked against an `Array` through a long random sequence of
/// operations.
@Suite struct TaskLineTests {
    @Test func randomOperationsAgreeWithAnArray() {
        var generator = SplitMix(seed: 7)
        var line = TaskLine<Int>()
        var reference: [Int] = []
        for step in 0..<100_000 {
            switch generator.next() % 8 {
            case 0, 1, 2:
                line.append(step)
                reference.append(step)
            case 3, 4, 5:
                guard !reference.isEmpty else { continue }
                #expect(line.removeFirst() == reference.removeFirst())
            case 6:
                line.prepend(-step)
                reference.insert(-step, at: 0)
            default:
                #expect(Array(line.prefix(5)) == Array(reference.prefix(5)))
            }
            #expect(line.count == reference.count && line.first == reference.first)
        }
        #expect(Array(line.removeAll()) == reference)
        #expect(line.isEmpty)
    }
}

/// A small deterministic generator for reproducible random tests.
struct SplitMix: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
