import BigInt
import Testing

@testable import Pickle

private func read(_ bytes: [UInt8], limits: PickleLimits = PickleLimits()) throws(PickleError) -> PickleGraph {
    try PickleReader.read(bytes, limits: limits)
}

private func code(of bytes: [UInt8], limits: PickleLimits = PickleLimits()) -> PickleError.Code? {
    do {
        _ = try read(bytes, limits: limits)
        return nil
    } catch {
        return error.code
    }
}

@Suite struct PickleReaderTests {
    // MARK: Opcodes Python 3 never writes (the Python corpus covers the ones it does)

    @Test func python2StringsReadAsStr() throws {
        // STRING with escapes, BINSTRING, SHORT_BINSTRING in one tuple.
        let bytes = Array("(S'a\\x41\\n\\'q'\n".utf8) + [0x54, 2, 0, 0, 0] + Array("hi".utf8) + [0x55, 1] + Array("z".utf8)
            + Array("t.".utf8)
        let graph = try read(bytes)
        guard case .tuple(let items) = graph.rootNode else { throw PickleError(.invalidStructure, "not a tuple") }
        #expect(items.map { graph[$0] } == [.string("aA\n'q"), .string("hi"), .string("z")])
    }

    @Test func textIntegersAndBools() throws {
        #expect(try read(Array("I01\n.".utf8)).rootNode == .bool(true))
        #expect(try read(Array("I00\n.".utf8)).rootNode == .bool(false))
        #expect(try read(Array("I-42\n.".utf8)).rootNode == .int(-42))
        #expect(try read(Array("L123456789012345678901234567890L\n.".utf8)).integerValue == BigInt("123456789012345678901234567890"))
        #expect(try read(Array("F2.5\n.".utf8)).rootNode == .float(2.5))
        #expect(code(of: Array("I12x\n.".utf8)) == .invalidValue)
        #expect(code(of: Array("L\(String(repeating: "9", count: 5000))\n.".utf8)) == .limitExceeded)
    }

    @Test func unicodeRawEscape() throws {
        #expect(try read(Array("V\\u2603 snow\n.".utf8)).stringValue == "☃ snow")
    }

    @Test func instObjAndExtensionsStayOpaqueAndRoundTrip() throws {
        // INST: MARK args INST module\nname\n ; OBJ: MARK cls args OBJ ; EXT1/2/4.
        let inst = Array("(I1\nimymod\nThing\n.".utf8)
        let graph = try read(inst)
        guard case .object(let object) = graph.rootNode,
            case .instance(let module, let name, let args) = object.constructor
        else { throw PickleError(.invalidStructure, "not an INST object") }
        #expect(module == "mymod" && name == "Thing" && args.count == 1)
        #expect(graph.typeName == "mymod.Thing")
        // Written back (as INST) it reads the same.
        #expect(try read(try graph.pickled()) .rootNode.kindName == "object")

        let obj: [UInt8] = Array("(cmymod\nK\nI2\no.".utf8)
        #expect(try read(obj).typeName == "mymod.K")
        for ext: [UInt8] in [[0x82, 7, 0x2E], [0x83, 1, 2, 0x2E], [0x84, 1, 2, 3, 4, 0x2E]] {
            let g = try read(ext)
            #expect(try read(try g.pickled()) == g)
        }
    }

    @Test func stackOpcodes() throws {
        // DUP, POP, POP_MARK: (K1 K2 1 K3 2 0 .  → MARK 1 2 POP_MARK 3 DUP POP → 3
        #expect(try read([0x28, 0x4B, 1, 0x4B, 2, 0x31, 0x4B, 3, 0x32, 0x30, 0x2E]).rootNode == .int(3))
        // PUT/GET (text) and LONG_BINPUT/LONG_BINGET
        #expect(try read(Array("K\u{5}p7\n0g7\n.".utf8)).rootNode == .int(5))
        #expect(try read([0x4B, 9, 0x72, 0, 1, 0, 0, 0x30, 0x6A, 0, 1, 0, 0, 0x2E]).rootNode == .int(9))
    }

    @Test func sharedReferencesKeepTheirIdentity() throws {
        // [x, x] where x = []: ] q0 ( ] q1 h1 e
        let bytes: [UInt8] = [0x80, 2, 0x5D, 0x71, 0, 0x28, 0x5D, 0x71, 1, 0x68, 1, 0x65, 0x2E]
        let graph = try read(bytes)
        guard case .list(let items) = graph.rootNode else { throw PickleError(.invalidStructure, "not a list") }
        #expect(items.count == 2 && items[0] == items[1])
        let again = try read(try graph.pickled())
        guard case .list(let items2) = again.rootNode else { throw PickleError(.invalidStructure, "not a list") }
        #expect(items2[0] == items2[1])
    }

    // MARK: Hostile input

    @Test func forbiddenOpcodesAreRefused() {
        #expect(code(of: Array("Pid\n.".utf8)) == .forbiddenOpcode)
        #expect(code(of: [0x4B, 1, 0x51, 0x2E]) == .forbiddenOpcode)
        #expect(code(of: [0x80, 5, 0x97, 0x2E]) == .forbiddenOpcode)
        #expect(code(of: [0x80, 5, 0x98, 0x2E]) == .forbiddenOpcode)
        #expect(code(of: [0xFF, 0x2E]) == .unknownOpcode)
        #expect(code(of: [0x80, 6, 0x4E, 0x2E]) == .invalidValue)
    }

    @Test func deepNestingIsRefusedWithoutRecursion() {
        // 100,000 nested lists: ] ] ] … then APPEND each into the one below.
        let lists = Array(repeating: UInt8(0x5D), count: 100_000) + Array(repeating: UInt8(0x61), count: 99_999) + [0x2E]
        #expect(code(of: lists) == .limitExceeded)
        let marks = Array(repeating: UInt8(0x28), count: 100_000) + [0x4E, 0x2E]
        #expect(code(of: marks) == .limitExceeded)
        let tuples = [0x4E] + Array(repeating: UInt8(0x85), count: 5000) + [0x2E]
        #expect(code(of: tuples) == .limitExceeded)
        // Within the limit it reads, and writes back, fine.
        let ok = [0x4E] + Array(repeating: UInt8(0x85), count: 900) + [0x2E]
        #expect((try? read(ok).pickled()) != nil)
    }

    @Test func hugeAnnouncedLengthsAreTruncationNotAllocation() {
        var unicode8: [UInt8] = [0x80, 4, 0x8D]
        unicode8 += withUnsafeBytes(of: UInt64(1 << 62).littleEndian, Array.init)
        #expect(code(of: unicode8 + [0x2E]) == .truncated)
        #expect(code(of: [0x8B, 0, 0, 0, 0x80, 0x2E]) == .truncated)  // LONG4 of 2 GiB
        #expect(code(of: [0x58, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E]) == .truncated)
        #expect(code(of: [0x54, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E]) == .truncated)
        let bigLong: [UInt8] = [0x8B, 0x00, 0x00, 0x02, 0x00] + Array(repeating: 1, count: 0x20000) + [0x2E]
        #expect(code(of: bigLong) == .limitExceeded)
    }

    @Test func badStructureIsAnError() {
        #expect(code(of: [0x68, 5, 0x2E]) == .badMemoReference)
        #expect(code(of: [0x2E]) == .invalidStructure)  // STOP on an empty stack
        #expect(code(of: [0x74, 0x2E]) == .invalidStructure)  // TUPLE without MARK
        #expect(code(of: [0x52, 0x2E]) == .invalidStructure)  // REDUCE on nothing
        #expect(code(of: [0x4B, 1, 0x4B, 2, 0x61, 0x2E]) == .invalidStructure)  // APPEND to an int
        #expect(code(of: [0x4E, 0x4E, 0x62, 0x2E]) == .invalidStructure)  // BUILD on None
        #expect(code(of: [0x28, 0x4B, 1, 0x64, 0x2E]) == .invalidStructure)  // DICT of an odd count
        #expect(code(of: [0x8C, 2, 0xC3, 0x28, 0x8C, 1, 0x41, 0x93, 0x2E]) != nil)  // STACK_GLOBAL of bad UTF-8
        #expect(code(of: [0x4E, 0x2E, 0x4E]) == .trailingData)
        #expect(code(of: [0x4E]) == .truncated)
        #expect(code(of: []) == .truncated)
    }

    @Test func everyTruncationOfValidPicklesIsAnError() throws {
        let samples: [[UInt8]] = try [
            PickleGraph.tuple([.string("#RETURN"), .int(BigInt(2).power(100))]).pickled(),
            PickleGraph.exception(module: "_queue", name: "Empty", arguments: []).pickled(),
            Array("(lp0\nI1\naF2.5\naVx\np1\na.".utf8),
        ]
        for sample in samples {
            #expect((try? read(sample)) != nil)
            for length in 0..<sample.count {
                #expect(code(of: Array(sample.prefix(length))) != nil, "prefix of \(length) bytes was accepted")
            }
        }
    }

    @Test func randomAndMutatedInputNeverCrashes() throws {
        var rng = SplitMix64(seed: 99)
        let seeds: [[UInt8]] = try [
            PickleGraph.tuple([.string("put"), .int(7), .none]).pickled(),
            Array("(dp0\nVa\np1\nI1\nsVb\np2\n(lp3\nI2\nag1\nas.".utf8),
            [0x80, 4, 0x95, 0x0B, 0, 0, 0, 0, 0, 0, 0, 0x8C, 3, 0x61, 0x62, 0x63, 0x94, 0x85, 0x94, 0x2E],
        ]
        var accepted = 0
        for round in 0..<6000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                bytes = seeds[Int(rng.next() % UInt64(seeds.count))]
                for _ in 0..<(1 + Int(rng.next() % 4)) where !bytes.isEmpty {
                    bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            if let graph = try? read(bytes) {
                accepted += 1
                // Whatever is accepted can be written back, and writing is stable from then on.
                guard let written = try? graph.pickled() else { continue }
                #expect(try read(written).pickled() == written)
            }
        }
        #expect(accepted < 6000)
    }

    @Test func limitsAreConfigurable() {
        let list: [UInt8] = [0x5D, 0x28] + Array(repeating: 0x4E, count: 50) + [0x65, 0x2E]
        #expect(code(of: list, limits: PickleLimits(maxNodes: 10)) == .limitExceeded)
        #expect(code(of: list, limits: PickleLimits(maxInputBytes: 20)) == .limitExceeded)
        let memo: [UInt8] = [0x4E, 0x94, 0x94, 0x94, 0x2E]
        #expect(code(of: memo, limits: PickleLimits(maxMemoEntries: 2)) == .limitExceeded)
    }
}

/// A tiny deterministic generator, so fuzz-style loops are repeatable.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
