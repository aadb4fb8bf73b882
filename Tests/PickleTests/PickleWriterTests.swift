import BigInt
import Foundation
import TestSupport
import Testing

@testable import Pickle

@Suite struct PickleWriterTests {
    /// Every pickle of the captured sessions (Python 3.11–3.13 clients and servers, requests
    /// and replies, 68 value round trips) is read and written back byte for byte.
    @Test func everyCapturedPickleIsWrittenBackByteForByte() throws {
        let frames = try CapturedVectors.pickleFrames()
        #expect(frames.count > 1000)
        var mismatches: [String] = []
        for frame in frames {
            let graph = try PickleReader.read(frame.pickle)
            let written = try graph.pickled()
            if let at = written.firstDifference(from: frame.pickle) {
                mismatches.append("\(frame.file) #\(frame.index) \(frame.note.prefix(60)): differs at byte \(at)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) differ:\n\(mismatches.prefix(10).joined(separator: "\n"))")
    }

    // The replies a queue server sends, built from scratch, as captured from Python (PROTOCOL.md §4).

    @Test func returnNoneReply() throws {
        let reply = try PickleGraph.tuple([.string("#RETURN"), .none]).pickled()
        #expect(reply.hex == "8004950e000000000000008c072352455455524e944e86942e")
        #expect(try PickleValue.tuple(["#RETURN", .none]).pickled() == reply)
    }

    @Test func returnIntReplies() throws {
        #expect(
            try PickleValue.tuple(["#RETURN", 7]).pickled().hex
                == "8004950f000000000000008c072352455455524e944b0786942e"
        )
        #expect(
            try PickleValue.tuple(["#RETURN", 300]).pickled().hex
                == "80049510000000000000008c072352455455524e944d2c0186942e"
        )
        #expect(
            try PickleGraph.tuple([.string("#RETURN"), .int(100_000)]).pickled().hex
                == "80049512000000000000008c072352455455524e944aa086010086942e"
        )
    }

    @Test func queueEmptyErrorReply() throws {
        let expected = "8004952200000000000000" + "8c06234552524f52948c065f7175657565948c05456d70747994939429529486942e"
        let empty = PickleGraph.exception(module: "_queue", name: "Empty", arguments: [])
        #expect(try PickleGraph.tuple([.string("#ERROR"), empty]).pickled().hex == expected)
        #expect(
            try PickleValue.tuple(["#ERROR", .exception(module: "_queue", name: "Empty")]).pickled().hex == expected
        )
        #expect(try PickleReader.read(empty.pickled()).typeName == "_queue.Empty")
    }

    @Test func requestsAsAPythonClientWritesThem() throws {
        // (None, 'dummy', (), {}) and (id, 'put', ('7 * 7 = 49',), {}) from PROTOCOL.md §4.
        let dummy = PickleValue.tuple([.none, "dummy", .tuple([]), [:]])
        #expect(try dummy.pickled().hex == "8004951000000000000000" + "284e8c0564756d6d7994297d947494" + "2e")
        let put = PickleValue.tuple(["7fdb98406cf0", "put", .tuple(["7 * 7 = 49"]), [:]])
        #expect(
            try put.pickled().hex
                == "8004952a00000000000000288c0c" + Array("7fdb98406cf0".utf8).hex + "948c03707574948c0a"
                + Array("7 * 7 = 49".utf8).hex + "9485947d947494" + "2e"
        )
    }

    @Test func smallValuesHaveNoFrame() throws {
        #expect(try PickleGraph.none.pickled() == [0x80, 4, 0x4E, 0x2E])
        #expect(try PickleGraph.int(7).pickled() == [0x80, 4, 0x4B, 7, 0x2E])
        #expect(try PickleValue.tuple([]).pickled() == [0x80, 4, 0x29, 0x2E])
        #expect(try PickleValue.list([]).pickled() == [0x80, 4, 0x5D, 0x94, 0x2E])
        // Four bytes of body get a frame.
        #expect(try PickleValue.int(-1).pickled().hex == "8004950600000000000000" + "4affffffff2e")
    }

    @Test func theStringFastPathMatchesTheGraphPath() throws {
        for text in [
            "", "a", "7 * 7 = 49", "ünïcødé ☃ 𝄞", String(repeating: "x", count: 255),
            String(repeating: "y", count: 256),
            String(repeating: "z", count: 65535), String(repeating: "w", count: 65536),
            String(repeating: "v", count: 70000),
        ] {
            let fast = try PickleValue.string(text).pickled()
            let general = try PickleWriter.write(PickleGraph(nodes: [.string(text)], root: 0))
            #expect(fast == general, "\(text.utf8.count) bytes")
            #expect(try PickleReader.read(fast).stringValue == text)
        }
        // A large str goes between frames: no FRAME at all here.
        let large = try PickleValue.string(String(repeating: "v", count: 70000)).pickled()
        #expect(large.prefix(3) == [0x80, 4, 0x58])
        #expect(large.suffix(2) == [0x94, 0x2E])
    }

    @Test func scalarsOfEveryKindRoundTrip() throws {
        var values: [BigInt] = [0, 1, -1, 127, 128, 255, 256, -128, -129, 65535, 65536]
        for bits in [31, 32, 63, 64, 65, 127, 128, 2000, 2047, 2048, 2100] {
            values += [BigInt(1) << bits, -(BigInt(1) << bits), (BigInt(1) << bits) - 1, -(BigInt(1) << bits) + 1]
        }
        for value in values {
            let bytes = try PickleValue.integer(value).pickled()
            #expect(try PickleGraph.int(value).pickled() == bytes)
            #expect(try PickleReader.read(bytes).integerValue == value, "\(value)")
        }
        for double in [
            0.0, -0.0, 1.5, .pi, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
        ] {
            let read = try PickleReader.read(PickleValue.float(double).pickled())
            #expect(read.rootNode == .float(bitPattern: double.bitPattern))
        }
        #expect(try PickleValue(pickle: PickleValue.bytes([0, 1, 255]).pickled()) == .bytes([0, 1, 255]))
        #expect(try PickleValue(pickle: PickleValue.bool(true).pickled()) == true)
    }

    @Test func bytearrayIsAReduceInProtocol4AndBYTEARRAY8In5() throws {
        let graph = PickleGraph(.byteArray([97, 98]))
        let four = try graph.pickled()
        #expect(
            four.hex
                == "8004952300000000000000" + "8c086275696c74696e73948c09627974656172726179949394430261629485945294"
                + "2e"
        )
        #expect(try PickleReader.read(four).value == .byteArray([97, 98]))
        let five = try PickleWriter.write(graph, protocolVersion: 5)
        #expect(five.hex == "8005950d00000000000000" + "960200000000000000616294" + "2e")
        #expect(try PickleReader.read(five).value == .byteArray([97, 98]))
    }

    @Test func setsOfAWholeNumberOfBatchesEndWithAnEmptyOne() throws {
        // CPython's save_set writes another batch after every full one.
        let set = PickleValue.set((0..<1000).map { .int($0) })
        let bytes = try set.pickled()
        #expect(bytes.suffix(4) == [0x90, 0x28, 0x90, 0x2E])
        let graph = try PickleReader.read(bytes)
        #expect(graph.elements(of: graph.root) == nil)
        guard case .set(let items) = graph.rootNode else {
            Issue.record("not a set")
            return
        }
        #expect(items.count == 1000)
        #expect(try graph.pickled() == bytes)
    }

    @Test func listsAndDictsAreBatchedByAThousand() throws {
        let list = try PickleValue.list((0..<1001).map { .int($0) }).pickled()
        // The second batch holds one item and is still MARK … APPENDS.
        #expect(list.suffix(6) == [0x28, 0x4D, 0xE8, 0x03, 0x65, 0x2E])
        #expect(list.filter { $0 == 0x65 }.count >= 2)
        let one = try PickleValue.list([5]).pickled()
        #expect(one == [0x80, 4, 0x95] + le(6, 8) + [0x5D, 0x94, 0x4B, 5, 0x61, 0x2E])
        let dict = try PickleValue.dict([.init(1, 2)]).pickled()
        #expect(dict == [0x80, 4, 0x95] + le(8, 8) + [0x7D, 0x94, 0x4B, 1, 0x4B, 2, 0x73, 0x2E])
        // A dict, like a set, gets another batch after each full one (CPython's batch_dict_exact).
        let thousand = try PickleValue.dict((0..<1000).map { .init(.int($0), .none) }).pickled()
        #expect(thousand.suffix(4) == [0x75, 0x28, 0x75, 0x2E])
        let pair = try PickleValue.dict([.init(1, 2), .init(3, 4)]).pickled()
        #expect(pair.suffix(2) == [0x75, 0x2E])
        #expect(pair.filter { $0 == 0x75 }.count == 1)
    }

    @Test func sharedReferencesAndCyclesBecomeMemoGets() throws {
        // [x, x] with x = [] and l = [l].
        var graph = PickleGraph(.list([]))
        let shared = graph.root
        graph.root = graph.add(.list([shared, shared]))
        let bytes = try graph.pickled()
        #expect(bytes.hex == "8004950900000000000000" + "5d94285d946801652e")
        let again = try PickleReader.read(bytes)
        let items = try #require(again.elements(of: again.root))
        #expect(items.count == 2 && items[0] == items[1])

        var cycle = PickleGraph(nodes: [.list([0])], root: 0)
        let cyclic = try cycle.pickled()
        #expect(cyclic == [0x80, 4, 0x95] + le(6, 8) + [0x5D, 0x94, 0x68, 0, 0x61, 0x2E])
        cycle = try PickleReader.read(cyclic)
        #expect(cycle.elements(of: cycle.root) == [cycle.root])
    }

    @Test func recursiveTuplesAndObjectsAreWrittenAsPythonDoes() throws {
        // t = ([t],): the tuple is reached again through the list, written a second time, and
        // the first writing ends in POP + BINGET (Python's save_tuple).
        let tuple = PickleGraph(nodes: [.tuple([1]), .list([0])], root: 0)
        let bytes = try tuple.pickled()
        #expect(bytes.hex == "8004950b00000000000000" + "5d9468008594613068012e")
        let read = try PickleReader.read(bytes)
        #expect(try read.pickled() == bytes)
        // o = m.f([o]): an object reached through its own arguments.
        let object = PickleGraph(
            nodes: [
                .object(PickleObject(constructor: .reduce(callable: 1, arguments: 2))),
                .object(PickleObject(constructor: .global(module: "m", name: "f"))),
                .tuple([3]), .list([0]),
            ],
            root: 0
        )
        let objectBytes = try object.pickled()
        // REDUCE, then POP and a GET of the copy the cycle wrote.
        #expect(objectBytes.suffix(5).prefix(2) == [0x52, 0x30])
        #expect(try PickleReader.read(objectBytes).pickled() == objectBytes)
    }

    @Test func graphsNoPickleCanExpressAreRefused() {
        let selfTuple = PickleGraph(nodes: [.tuple([0])], root: 0)
        let error = #expect(throws: PickleError.self) { try selfTuple.pickled() }
        #expect(error?.code == .invalidStructure)
        let badGlobal = PickleGraph(
            nodes: [.object(PickleObject(constructor: .stackGlobal(module: 1, name: 1))), .int(3)],
            root: 0
        )
        #expect(throws: PickleError.self) { try badGlobal.pickled() }
        let newline = PickleGraph(
            node: .object(PickleObject(constructor: .instance(module: "a\nb", name: "c", arguments: [])))
        )
        #expect(throws: PickleError.self) { try newline.pickled() }
    }

    @Test func deepValuesAreWrittenWithoutRecursion() throws {
        var nodes: [PickleNode] = [.none]
        for index in 0..<200_000 { nodes.append(index % 2 == 0 ? .list([index]) : .tuple([index])) }
        let graph = PickleGraph(nodes: nodes, root: nodes.count - 1)
        let bytes = try graph.pickled()
        #expect(bytes.count > 200_000)
        // Too deep for the default reader limits, as it should be.
        #expect(errorCode(of: bytes) == .limitExceeded)
        #expect(errorCode(of: bytes, limits: PickleLimits(maxDepth: 300_000)) == nil)
    }
}

/// Inputs the fuzzer (`scripts/fuzz`) found; each once hung the writer.
@Suite struct FuzzFoundWriterTests {
    /// `EXT4 … MEMOIZE MARK 1 GET(2) APPENDS`: an extension-code object appended to itself
    /// through its memo. Python never memoizes an extension code, so writing it as Python would
    /// (no memo) recursed forever; it is now written with the memo, and reads back the same.
    @Test func anExtensionObjectAppendedToItselfIsWrittenOnceWithItsMemo() throws {
        let input = Fixtures.repositoryRoot.appendingPathComponent(
            "Fuzz/Regressions/FuzzPickle/timeout-extension-object-appended-to-itself"
        )
        let bytes = [UInt8](try Data(contentsOf: input))
        let graph = try PickleReader.read(bytes)
        let written = try graph.pickled()
        let again = try PickleReader.read(written)
        guard case .tuple(let items) = again.rootNode, items.count == 2,
            case .object(let object) = again[items[1]],
            case .append(let appended) = object.mutations.first
        else {
            Issue.record("read back as \(again)")
            return
        }
        #expect(appended.count == 2 && appended[1] == items[1], "the object holds itself again")
        #expect(try again.pickled() == written)
    }
}
