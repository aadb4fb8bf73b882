import BigInt
import Testing

@testable import Pickle

@Suite struct PickleValueTests {
    @Test func plainValuesConvertBothWays() throws {
        let value: PickleValue = [
            "ints": [0, -1, .int(Int.max), .integer(BigInt(1) << 100)],
            "text": .tuple(["", "ünïcødé", .bytes([0, 255]), .byteArray([1])]),
            1.5: .set([1, 2]),
            .frozenSet([.none, true, false]): [:],
        ]
        let graph = PickleGraph(value)
        #expect(try graph.value == value)
        #expect(try PickleValue(pickle: graph.pickled()) == value)
        #expect(try PickleValue(pickle: value.pickled()) == value)
    }

    @Test func integersAreNormalizedEverywhere() throws {
        #expect(PickleValue.integer(BigInt(42)) == .int(42))
        #expect(PickleValue.integer(BigInt(1) << 64) == .bigInt(BigInt(1) << 64))
        // A non-normalized .bigInt still becomes an .int node, so graphs compare equal.
        #expect(PickleGraph(.bigInt(BigInt(42))) == PickleGraph(.int(42)))
        #expect(try PickleGraph(.bigInt(BigInt(42))).value == .int(42))
        var graph = PickleGraph(.tuple([]))
        graph.root = graph.add(.bigInt(BigInt(-7)))
        #expect(graph.rootNode == .int(-7))
    }

    @Test func theWorkerAsksWhatATaskIs() throws {
        let small = try PickleReader.read([0x80, 4, 0x4B, 7, 0x2E])
        #expect(small.intValue == 7)
        #expect(small.integerValue == 7)
        let big = try PickleReader.read(PickleValue.integer(BigInt(10).power(30)).pickled())
        #expect(big.intValue == nil)
        #expect(big.integerValue == BigInt(10).power(30))
        let truth = try PickleReader.read(PickleValue.bool(true).pickled())
        #expect(truth.integerValue == nil)
        #expect(truth.typeName == "bool")
        let names: [(PickleValue, String)] = [
            (.none, "NoneType"), (1.5, "float"), ("s", "str"), (.bytes([]), "bytes"), (.byteArray([]), "bytearray"),
            (.tuple([]), "tuple"), ([], "list"), ([:], "dict"), (.set([]), "set"), (.frozenSet([]), "frozenset"),
            (.exception(module: "builtins", name: "ValueError", arguments: ["boom"]), "ValueError"),
            (.exception(module: "_queue", name: "Empty"), "_queue.Empty"),
            (.global(module: "builtins", name: "len"), "builtins.len (a class or function)"),
        ]
        for (value, name) in names {
            #expect(try PickleReader.read(value.pickled()).typeName == name)
            #expect(value.typeName == name)
        }
    }

    @Test func theWorkerWritesAResultStr() throws {
        let bytes = try PickleValue.string("7 * 7 = 49").pickled()
        #expect(bytes == (try PickleGraph.string("7 * 7 = 49").pickled()))
        #expect(bytes.hex == "8004950e00000000000000" + "8c0a" + Array("7 * 7 = 49".utf8).hex + "942e")
        #expect(try PickleReader.read(bytes).stringValue == "7 * 7 = 49")
    }

    /// The server cuts each argument out of a request; memo references into the rest of the
    /// envelope (here `'put'`, the same str object as the method name) must be resolved.
    @Test func theServerCutsArgumentsOutOfAnEnvelope() throws {
        let frame = try #require(
            try CapturedVectors.pickleFrames().first { $0.note.contains("'put', (('put', 'get'),), {})") },
            "the misc capture with a put argument sharing the method name str"
        )
        let envelope = try PickleReader.read(frame.pickle)
        let parts = try #require(envelope.elements(of: envelope.root))
        #expect(parts.count == 4)
        #expect(envelope.stringValue(of: parts[1]) == "put")
        let arguments = try #require(envelope.elements(of: parts[2]))
        let argument = envelope.subgraph(at: arguments[0])
        #expect(try argument.value == .tuple(["put", "get"]))
        // Standalone: exactly what Python writes for ('put', 'get') on its own.
        #expect(try argument.pickled() == (try PickleValue.tuple(["put", "get"]).pickled()))
        #expect(try argument.pickled().hex == "8004950f00000000000000" + "8c03707574948c036765749486942e")
    }

    @Test func subgraphsKeepSharingAndCyclesInsideTheValue() throws {
        // (method, [x, x, l]) where x = 'm' is also the method, and l = [l].
        var graph = PickleGraph(.string("m"))
        let method = graph.root
        let cyclic = graph.add(.list([]))
        graph = PickleGraph(nodes: graph.nodes.dropLast() + [.list([1])], root: 0)
        let list = graph.add(.list([method, method, cyclic]))
        graph.root = graph.add(.tuple([method, list]))
        let value = graph.subgraph(at: list)
        #expect(value.nodes.count == 3)
        let items = try #require(value.elements(of: value.root))
        #expect(items[0] == items[1])
        #expect(value.elements(of: items[2]) == [items[2]])
        #expect(try PickleReader.read(value.pickled()) == value)
    }

    @Test func aStoredValueIsEmbeddedInAReply() throws {
        // A stored value with sharing inside, embedded as ('#RETURN', value): the sharing stays.
        let stored = try PickleReader.read(PickleGraph(nodes: [.string("s"), .list([0, 0])], root: 1).pickled())
        let reply = PickleGraph(.tuple(["#RETURN", .graph(stored)]))
        #expect(try reply.pickled() == PickleGraph.tuple([.string("#RETURN"), stored]).pickled())
        let read = try PickleReader.read(reply.pickled())
        let parts = try #require(read.elements(of: read.root))
        let items = try #require(read.elements(of: parts[1]))
        #expect(items[0] == items[1])
        #expect(try read.value == .tuple(["#RETURN", ["s", "s"]]))
        // The traceback reply.
        #expect(try PickleValue.tuple(["#TRACEBACK", "Traceback …"]).pickled().count > 20)
    }

    @Test func cyclesCanNotBecomeTrees() {
        let cycle = PickleGraph(nodes: [.list([0])], root: 0)
        let error = #expect(throws: PickleError.self) { try cycle.value }
        #expect(error?.code == .invalidStructure)
        // A cycle inside an object is fine: the object travels whole.
        let object = PickleGraph(
            nodes: [
                .object(PickleObject(constructor: .global(module: "m", name: "C"), mutations: [.build(state: 1)])),
                .list([0]),
            ],
            root: 0
        )
        guard case .graph(let inner) = try? object.value else {
            Issue.record("an object is not a .graph value")
            return
        }
        #expect(inner == object)
    }

    @Test func sharedValuesCanNotExpandWithoutBound() throws {
        // 40 levels of [x, x]: 2**40 values as a tree.
        var nodes: [PickleNode] = [.none]
        for index in 0..<40 { nodes.append(.list([index, index])) }
        let graph = PickleGraph(nodes: nodes, root: nodes.count - 1)
        let error = #expect(throws: PickleError.self) { try graph.value }
        #expect(error?.code == .limitExceeded)
        // Ten levels (2047 values as a tree) are fine.
        let small = PickleGraph(nodes: Array(nodes.prefix(11)), root: 10)
        guard case .list(let halves) = try small.value else {
            Issue.record("not a list")
            return
        }
        #expect(halves.count == 2 && halves[0] == halves[1])
    }

    @Test func oddStrsAndProtocol4BytearraysConvert() throws {
        // A lone surrogate, as Python writes it (surrogatepass): kept exactly, as a graph.
        let surrogate = try PickleReader.read([0x80, 4, 0x8C, 3, 0xED, 0xA0, 0x80, 0x94, 0x2E])
        guard case .graph(let kept) = try surrogate.value else {
            Issue.record("a lone surrogate became a Swift string")
            return
        }
        #expect(try kept.pickled() == [0x80, 4, 0x95] + le(7, 8) + [0x8C, 3, 0xED, 0xA0, 0x80, 0x94, 0x2E])
        #expect(surrogate.typeName == "str")
        #expect(surrogate.stringValue == nil)
        let empty = try PickleReader.read(PickleValue.byteArray([]).pickled())
        #expect(try empty.value == .byteArray([]))
    }

    @Test func valueConversionIsIterative() throws {
        var value: PickleValue = 0
        for _ in 0..<2000 { value = .list([value]) }
        let graph = PickleGraph(value)
        #expect(graph.nodes.count == 2001)
        #expect(try graph.value(limits: PickleLimits(maxDepth: 3000)) == value)
        // Deeper than the default limit, which keeps trees shallow enough to compare and free.
        let error = #expect(throws: PickleError.self) { try graph.value }
        #expect(error?.code == .limitExceeded)
    }
}
