import BigInt
import Testing

@testable import Pickle

/// Malformed and hostile pickles: every one is a thrown error, never a trap, a stack
/// overflow or a huge allocation.
@Suite struct HostileInputTests {
    @Test func deepNestingIsADepthErrorNotAStackOverflow() {
        // 100,000 lists, each opened with MARK EMPTY_LIST … (MARK nesting).
        let marked = Array([[UInt8]](repeating: [0x28, 0x5D], count: 100_000).joined()) + [0x2E]
        #expect(errorCode(of: marked) == .limitExceeded)
        // 100,000 nested lists without MARKs: ] ] ] … a a a (value nesting).
        let lists = [UInt8](repeating: 0x5D, count: 100_000) + [UInt8](repeating: 0x61, count: 99_999) + [0x2E]
        #expect(errorCode(of: lists) == .limitExceeded)
        // Tuples built bottom-up never deepen the stack, only the value.
        let tuples = [0x4E] + [UInt8](repeating: 0x85, count: 5000) + [0x2E]
        #expect(errorCode(of: tuples) == .limitExceeded)
        // Objects nest through their arguments too: v = m.f(v), 3000 times.
        var reduces: [UInt8] = [0x4E]
        for level in 0..<3000 {
            reduces += [0x94, 0x30, 0x63] + line("m") + line("f") + [0x6A] + le(UInt64(level), 4) + [0x85, 0x52]
        }
        #expect(errorCode(of: reduces + [0x2E]) == .limitExceeded)
    }

    @Test func depthCountsNestingNotCycles() throws {
        // A list appended to itself 5000 times, one APPEND at a time (protocol 0 style):
        // a cycle, not a deep value.
        // (Preceded by enough other values that the depth is actually measured.)
        let filler = Array([[UInt8]](repeating: [0x4E, 0x30], count: 1500).joined())
        let selfAppends =
            filler + [0x5D, 0x94] + Array([[UInt8]](repeating: [0x68, 0, 0x61], count: 5000).joined()) + [0x2E]
        let graph = try PickleReader.read(selfAppends)
        #expect(graph.elements(of: graph.root)?.count == 5000)
        // Exactly at the limit reads; one more level does not.
        let limits = PickleLimits(maxDepth: 1000)
        let atLimit = [0x4E] + [UInt8](repeating: 0x85, count: 1000) + [0x2E]
        #expect(errorCode(of: atLimit, limits: limits) == nil)
        #expect(
            errorCode(of: [0x4E] + [UInt8](repeating: 0x85, count: 1001) + [0x2E], limits: limits) == .limitExceeded
        )
        // And what was read within the limit is written back without trouble.
        #expect(try PickleReader.read(PickleReader.read(atLimit).pickled()) == PickleReader.read(atLimit))
    }

    @Test func depthIsMeasuredWhateverTheOrderOfBuilding() {
        // Lists built empty first, then filled from the outside in: each APPEND links a list
        // that is still shallow, yet the final value is 3000 deep.
        var bytes: [UInt8] = []
        let count = 3000
        for index in 0..<count {
            bytes += [0x5D, 0x72] + le(UInt64(index), 4) + [0x30]  // EMPTY_LIST LONG_BINPUT i POP
        }
        for index in 0..<(count - 1) {
            bytes += [0x6A] + le(UInt64(index), 4) + [0x6A] + le(UInt64(index + 1), 4) + [0x61, 0x30]
        }
        bytes += [0x6A] + le(0, 4) + [0x2E]
        #expect(errorCode(of: bytes) == .limitExceeded)
    }

    @Test func hugeAnnouncedLengthsAreTruncationNotAllocation() {
        #expect(errorCode(of: [0x80, 4, 0x8D] + le(1 << 62, 8) + [0x2E]) == .truncated)  // BINUNICODE8 of 2**62
        #expect(errorCode(of: [0x80, 4, 0x8E] + le(UInt64.max, 8) + [0x2E]) == .truncated)  // BINBYTES8
        #expect(errorCode(of: [0x80, 5, 0x96] + le(1 << 40, 8) + [0x2E]) == .truncated)  // BYTEARRAY8
        #expect(errorCode(of: [0x8B] + le(1 << 31, 4) + [0x2E]) == .truncated)  // LONG4 of 2**31 bytes
        #expect(errorCode(of: [0x58] + le(0xFFFF_FFFF, 4) + [0x2E]) == .truncated)  // BINUNICODE
        #expect(errorCode(of: [0x54, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E]) == .truncated)  // BINSTRING
        #expect(errorCode(of: [0x54, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E]) == .truncated)  // BINSTRING, negative
        #expect(errorCode(of: [0x80, 4, 0x95] + le(1 << 60, 8) + [0x4E, 0x2E]) == .truncated)  // FRAME
        // A LONG4 that is present but over the integer limit.
        let bigLong = [0x8B] + le(0x20000, 4) + [UInt8](repeating: 1, count: 0x20000) + [0x2E]
        #expect(errorCode(of: bigLong) == .limitExceeded)
        #expect(errorCode(of: [0x4C] + line(String(repeating: "9", count: 5000)) + [0x2E]) == .limitExceeded)
    }

    @Test func structuralErrors() {
        #expect(errorCode(of: [0x68, 5, 0x2E]) == .badMemoReference)  // BINGET of nothing
        #expect(errorCode(of: [0x6A] + le(1 << 31, 4) + [0x2E]) == .badMemoReference)
        #expect(errorCode(of: [0x67] + line("3") + [0x2E]) == .badMemoReference)
        #expect(errorCode(of: [0x2E]) == .invalidStructure)  // STOP on an empty stack
        #expect(errorCode(of: [0x30, 0x2E]) == .invalidStructure)  // POP on an empty stack
        #expect(errorCode(of: [0x32, 0x2E]) == .invalidStructure)  // DUP on an empty stack
        #expect(errorCode(of: [0x94, 0x2E]) == .invalidStructure)  // MEMOIZE of nothing
        #expect(errorCode(of: [0x86, 0x2E]) == .invalidStructure)  // TUPLE2 of nothing
        #expect(errorCode(of: [0x4B, 1, 0x28, 0x86, 0x2E]) == .invalidStructure)  // TUPLE2 across a MARK
        #expect(errorCode(of: [0x74, 0x2E]) == .invalidStructure)  // TUPLE without MARK
        #expect(errorCode(of: [0x31, 0x2E]) == .invalidStructure)  // POP_MARK without MARK
        #expect(errorCode(of: [0x28, 0x4E, 0x2E]) == .invalidStructure)  // STOP with the MARK open…
        #expect(errorCode(of: [0x28, 0x2E]) == .invalidStructure)  // …or only a MARK
        #expect(errorCode(of: [0x52, 0x2E]) == .invalidStructure)  // REDUCE of nothing
        #expect(errorCode(of: [0x4B, 1, 0x4B, 2, 0x61, 0x2E]) == .invalidStructure)  // APPEND to an int
        #expect(errorCode(of: [0x4E, 0x4E, 0x62, 0x2E]) == .invalidStructure)  // BUILD on None
        #expect(errorCode(of: [0x7D, 0x4B, 1, 0x73, 0x2E]) == .invalidStructure)  // SETITEM without a value
        #expect(errorCode(of: [0x28, 0x4B, 1, 0x64, 0x2E]) == .invalidStructure)  // DICT of an odd count
        #expect(errorCode(of: [0x29, 0x28, 0x4B, 1, 0x90, 0x2E]) == .invalidStructure)  // ADDITEMS to a tuple
        #expect(errorCode(of: [0x28, 0x6F, 0x2E]) == .invalidStructure)  // OBJ without a class
        #expect(errorCode(of: [0x4B, 1, 0x4B, 2, 0x93, 0x2E]) == .invalidStructure)  // STACK_GLOBAL of ints
        // STACK_GLOBAL of a module name that is not UTF-8.
        #expect(errorCode(of: [0x8C, 2, 0xC3, 0x28] + shortString("A") + [0x93, 0x2E]) == .invalidStructure)
        #expect(errorCode(of: [0x4E, 0x2E, 0x4E]) == .trailingData)
        #expect(errorCode(of: [0x4E]) == .truncated)  // no STOP
        #expect(errorCode(of: []) == .truncated)
        #expect(errorCode(of: [0x80]) == .truncated)
        #expect(errorCode(of: [0x80, 6, 0x4E, 0x2E]) == .invalidValue)  // protocol 6
        #expect(errorCode(of: [0x49] + line("12x") + [0x2E]) == .invalidValue)
        #expect(errorCode(of: [0x46] + line("one") + [0x2E]) == .invalidValue)
        #expect(errorCode(of: [0x53] + line("unquoted") + [0x2E]) == .invalidValue)
        #expect(errorCode(of: [0x56] + line("\\u12") + [0x2E]) == .invalidValue)
        #expect(errorCode(of: [0x70] + line("-1") + [0x2E]) == .invalidValue)
        #expect(errorCode(of: [0x63] + line("") + line("x") + [0x2E]) == .invalidValue)
        #expect(errorCode(of: [0x63, 0x61]) == .truncated)  // GLOBAL with no newline
        for opcode in UInt8(0)...UInt8(255) where Opcode.names[opcode] == nil {
            #expect(errorCode(of: [opcode, 0x2E]) == .unknownOpcode)
        }
    }

    @Test func limitsAreConfigurable() {
        let list: [UInt8] = [0x5D, 0x28] + [UInt8](repeating: 0x4E, count: 50) + [0x65, 0x2E]
        #expect(errorCode(of: list) == nil)
        #expect(errorCode(of: list, limits: PickleLimits(maxNodes: 10)) == .limitExceeded)
        #expect(errorCode(of: list, limits: PickleLimits(maxInputBytes: 20)) == .limitExceeded)
        #expect(
            errorCode(of: [0x4E, 0x94, 0x94, 0x94, 0x2E], limits: PickleLimits(maxMemoEntries: 2)) == .limitExceeded
        )
        // DUPs add stack entries, not nodes: they are bounded all the same.
        let dups = [0x4E] + [UInt8](repeating: 0x32, count: 100) + [0x2E]
        #expect(errorCode(of: dups, limits: PickleLimits(maxNodes: 50)) == .limitExceeded)
        #expect(
            errorCode(
                of: [0x8A, 9] + [UInt8](repeating: 1, count: 9) + [0x2E],
                limits: PickleLimits(maxIntegerBytes: 8)
            ) == .limitExceeded
        )
    }

    @Test func everyTruncationOfValidPicklesIsAnError() throws {
        let samples: [[UInt8]] =
            try [
                PickleGraph(.tuple(["#RETURN", .integer(BigInt(2).power(100))])).pickled(),
                PickleGraph(.tuple(["#ERROR", .exception(module: "_queue", name: "Empty")])).pickled(),
                PickleValue.list([1, "two", 3.5, [4: [5]], .bytes([6]), .set([7]), .frozenSet([8])]).pickled(),
                Array("(lp0\nI1\naF2.5\naVx\np1\naS'y'\np2\nag1\na.".utf8),
            ] + OpcodeSample.all.map(\.bytes)
        for sample in samples {
            #expect(errorCode(of: sample) == nil)
            for length in 0..<sample.count {
                #expect(errorCode(of: Array(sample.prefix(length))) != nil, "a prefix of \(length) bytes was accepted")
            }
        }
    }

    @Test func randomAndMutatedInputNeverCrashes() throws {
        var random = SplitMix64(seed: 0x5EED)
        let seeds: [[UInt8]] =
            try [
                PickleGraph(.tuple([.string("put"), 7, .none])).pickled(),
                (["a": [1, 2, 3], "b": .tuple([.bytes([1]), 2.5, .bigInt(BigInt(1) << 80)])] as PickleValue).pickled(),
                Array("(dp0\nVa\np1\nI1\nsVb\np2\n(lp3\nI2\nag1\nas.".utf8),
            ] + OpcodeSample.all.map(\.bytes)
        let opcodes = Array(Opcode.names.keys)
        var accepted = 0
        for round in 0..<6000 {
            var bytes: [UInt8]
            switch round % 3 {
            case 0:
                // Pure garbage.
                bytes = (0..<Int(random.next() % 48)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            case 1:
                // Opcodes with random arguments: gets past the first byte far more often.
                bytes = []
                for _ in 0..<(1 + random.next() % 12) {
                    bytes.append(opcodes[Int(random.next() % UInt64(opcodes.count))])
                    for _ in 0..<(random.next() % 4) { bytes.append(UInt8(truncatingIfNeeded: random.next())) }
                }
                bytes.append(0x2E)
            default:
                // A valid pickle with a few bytes changed, inserted or removed.
                bytes = seeds[Int(random.next() % UInt64(seeds.count))]
                for _ in 0..<(1 + random.next() % 4) where !bytes.isEmpty {
                    let index = Int(random.next() % UInt64(bytes.count))
                    switch random.next() % 3 {
                    case 0: bytes[index] = UInt8(truncatingIfNeeded: random.next())
                    case 1: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: index)
                    default: bytes.remove(at: index)
                    }
                }
            }
            guard let graph = try? PickleReader.read(bytes) else { continue }
            accepted += 1
            // Whatever is accepted can be inspected, and written back stably (or refused
            // cleanly when no pickle can express it).
            _ = graph.typeName
            _ = try? graph.value
            guard let written = try? graph.pickled() else { continue }
            #expect(try PickleReader.read(written).pickled() == written)
        }
        #expect(accepted > 100)
        #expect(accepted < 6000)
    }
}
