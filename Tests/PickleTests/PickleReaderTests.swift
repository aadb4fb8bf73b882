import BigInt
import Testing

@testable import Pickle

@Suite struct PickleReaderTests {
    @Test(arguments: OpcodeSample.all)
    func opcodeSampleReadsAsExpected(sample: OpcodeSample) throws {
        #expect(sample.bytes.contains(sample.opcode))
        let graph = try PickleReader.read(sample.bytes)
        if let expected = sample.expected {
            #expect(try graph.value == expected)
        }
        if let typeName = sample.typeName {
            #expect(graph.typeName == typeName)
        }
        // Whatever was read is written back, and reading that gives the same value again.
        let rewritten = try graph.pickled()
        let again = try PickleReader.read(rewritten)
        #expect(try again.pickled() == rewritten)
        if let expected = sample.expected {
            #expect(try again.value == expected)
        }
    }

    @Test func everyAcceptedOpcodeHasASample() {
        let accepted = Set(Opcode.names.keys).subtracting(Opcode.refused)
        let covered = Set(OpcodeSample.all.map(\.opcode))
        let missing = accepted.subtracting(covered).compactMap { Opcode.names[$0] }.sorted()
        #expect(missing.isEmpty, "no sample for \(missing)")
        #expect(accepted.count == 64)
    }

    @Test func refusedOpcodesSayWhy() throws {
        for bytes: [UInt8] in [
            Array("Pid\n.".utf8), [0x4B, 1, 0x51, 0x2E], [0x80, 5, 0x97, 0x2E], [0x80, 5, 0x98, 0x2E],
        ] {
            let error = #expect(throws: PickleError.self) { try PickleReader.read(bytes) }
            #expect(error?.code == .forbiddenOpcode)
        }
        let error = #expect(throws: PickleError.self) { try PickleReader.read([0x80, 4, 0x4B, 1, 0x51, 0x2E]) }
        #expect(error?.offset == 4)
        #expect(error?.opcode == 0x51)
        #expect(error?.opcodeName == "BINPERSID")
        #expect(error?.description.contains("persistent ids") == true)
    }

    @Test func errorsCarryOffsetOpcodeAndMessage() throws {
        let error = #expect(throws: PickleError.self) { try PickleReader.read([0x80, 4, 0x4E, 0x68, 9, 0x2E]) }
        #expect(error?.code == .badMemoReference)
        #expect(error?.offset == 3)
        #expect(error?.opcodeName == "BINGET")
        #expect(
            error?.description
                == "invalid pickle (badMemoReference): memo slot 9 was never filled (at byte 3, opcode BINGET 0x68)"
        )
        let unknown = #expect(throws: PickleError.self) { try PickleReader.read([0x4E, 0xFF, 0x2E]) }
        #expect(unknown?.code == .unknownOpcode)
        #expect(unknown?.offset == 1)
    }

    @Test func readingASliceCountsOffsetsFromItsStart() throws {
        let buffer: [UInt8] = [0xAA, 0xAA, 0x80, 4, 0x4B, 7, 0x2E, 0xBB]
        #expect(try PickleReader.read(buffer[2..<7]).intValue == 7)
        let error = #expect(throws: PickleError.self) { try PickleReader.read(buffer[2..<8]) }
        #expect(error?.code == .trailingData)
        #expect(error?.offset == 4)
    }

    @Test func python2StringsMustBeASCII() {
        #expect(errorCode(of: [0x55, 1, 0xE9, 0x2E]) == .invalidValue)
        #expect(errorCode(of: [0x53] + line("'\\xe9'") + [0x2E]) == .invalidValue)
    }

    @Test func protocol2GlobalsGetPython3NamesButProtocol3DoNot() throws {
        let old = try PickleReader.read([0x80, 2, 0x63] + line("copy_reg") + line("_reconstructor") + [0x2E])
        #expect(old.globalText(of: old.root) == "copyreg._reconstructor")
        let new = try PickleReader.read([0x80, 3, 0x63] + line("copy_reg") + line("_reconstructor") + [0x2E])
        #expect(new.globalText(of: new.root) == "copy_reg._reconstructor")
        let renamed = try PickleReader.read([0x80, 2, 0x63] + line("__builtin__") + line("xrange") + [0x2E])
        #expect(renamed.globalText(of: renamed.root) == "builtins.range")
    }

    @Test func protocol0ObjectsNameTheirClass() throws {
        // What Python writes for a plain object at protocol 0: copyreg._reconstructor(cls, object, None).
        let bytes =
            [0x63] + line("copy_reg") + line("_reconstructor") + [0x28, 0x63] + line("argparse") + line("Namespace")
            + [0x63] + line("__builtin__") + line("object") + [0x4E, 0x74, 0x52, 0x2E]
        #expect(try PickleReader.read(bytes).typeName == "argparse.Namespace")
    }

    @Test func stackGlobalKeepsItsStrsSoSharingSurvives() throws {
        // [datetime.date, datetime.datetime] where Python shared the module name str.
        let body: [UInt8] =
            [0x5D, 0x94, 0x28] + shortString("datetime") + [0x94] + shortString("date")
            + [0x94, 0x93, 0x94, 0x68, 1] + shortString("datetime") + [0x94, 0x93, 0x94, 0x65, 0x2E]
        let bytes = [0x80, 4, 0x95] + le(UInt64(body.count), 8) + body
        let graph = try PickleReader.read(bytes)
        #expect(try graph.pickled() == bytes)
        let items = try #require(graph.elements(of: graph.root))
        #expect(graph.globalText(of: items[1]) == "datetime.datetime")
        #expect(graph.typeName(of: items[0]) == "datetime.date (a class or function)")
    }

    @Test func objectMutationsKeepTheirOrder() throws {
        // deque() BUILD-then-APPEND, an order Python never writes but a pickle may hold.
        let bytes =
            [0x80, 2, 0x63] + line("collections") + line("deque") + [0x29, 0x52, 0x4E, 0x62, 0x4B, 1, 0x61, 0x2E]
        let graph = try PickleReader.read(bytes)
        guard case .object(let object) = graph.rootNode else {
            Issue.record("not an object")
            return
        }
        #expect(object.mutations.count == 2)
        guard case .build = object.mutations.first, case .append(let items) = object.mutations.last else {
            Issue.record("mutations out of order: \(object.mutations)")
            return
        }
        #expect(items.count == 1)
        // Written back (with STACK_GLOBAL) the order holds.
        let again = try PickleReader.read(graph.pickled())
        guard case .object(let rewritten) = again.rootNode else {
            Issue.record("not an object")
            return
        }
        #expect(rewritten.mutations.map { if case .build = $0 { "build" } else { "other" } } == ["build", "other"])
    }

    @Test func floatsKeepTheirBitPatterns() throws {
        for bits: UInt64 in [
            0x8000_0000_0000_0000, 0x7FF8_0000_0000_0001, 0xFFF0_0000_0000_0000, 0x0000_0000_0000_0001,
        ] {
            let bytes = [0x47] + (0..<8).map { UInt8(truncatingIfNeeded: bits >> (56 - 8 * UInt64($0))) } + [0x2E]
            let graph = try PickleReader.read(bytes)
            #expect(graph.rootNode == .float(bitPattern: bits))
            #expect(try graph.pickled() == [0x80, 4, 0x95] + le(10, 8) + bytes)
        }
    }

    @Test func integersAreNormalized() throws {
        // A LONG1 that fits in 64 bits is an .int, and a padded one reads the same.
        #expect(try PickleReader.read([0x8A, 2, 0xFF, 0x00, 0x2E]).rootNode == .int(255))
        #expect(try PickleReader.read([0x8A, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x2E]).rootNode == .int(1))
        #expect(try PickleReader.read([0x8A, 3, 0xFF, 0xFF, 0xFF, 0x2E]).rootNode == .int(-1))
        let big = try PickleReader.read([0x8A, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0xFF, 0x2E])
        #expect(big.rootNode == .int(Int.min))
        #expect(PickleGraph(nodes: [.bigInt(BigInt(5))], root: 0).rootNode == .int(5))
    }

    @Test func theReaderMemoFollowsPython() throws {
        // MEMOIZE after a sparse BINPUT takes slot len(memo), as in Python.
        let bytes: [UInt8] = [0x4B, 1, 0x71, 5, 0x4B, 2, 0x94, 0x86, 0x68, 1, 0x86, 0x2E]
        #expect(try PickleReader.read(bytes).value == .tuple([.tuple([1, 2]), 2]))
        // A PUT may overwrite a slot.
        #expect(
            try PickleReader.read([0x4B, 1, 0x94, 0x4B, 2, 0x71, 0, 0x86, 0x68, 0, 0x86, 0x2E]).value
                == .tuple([.tuple([1, 2]), 2])
        )
    }
}
