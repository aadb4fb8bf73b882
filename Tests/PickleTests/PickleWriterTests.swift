import BigInt
import Pickle
import TestSupport
import Testing

@Suite struct PickleWriterTests {
    // Replies captured from real Python 3.13 servers (PROTOCOL.md §4).
    @Test func writesTheReturnNoneReplyAsPythonDoes() throws {
        let reply = try PickleGraph.tuple([.string("#RETURN"), .none]).pickled()
        #expect(reply.hexString == "80049" + "50e00000000000000" + "8c072352455455524e944e86942e")
    }

    @Test func writesTheQueueEmptyErrorAsPythonDoes() throws {
        let empty = PickleGraph.exception(module: "_queue", name: "Empty", arguments: [])
        let reply = try PickleGraph.tuple([.string("#ERROR"), empty]).pickled()
        #expect(
            reply.hexString
                == "8004952200000000000000" + "8c06234552524f52948c065f7175657565948c05456d70747994939429529486942e")
    }

    @Test func writesAnIntReturnAsPythonDoes() throws {
        let reply = try PickleGraph.tuple([.string("#RETURN"), .int(100000)]).pickled()
        #expect(reply.hexString == "80049512000000000000008c072352455455524e944aa086010086942e")
    }

    @Test func smallValuesHaveNoFrame() throws {
        #expect(try PickleGraph.none.pickled() == [0x80, 4, 0x4E, 0x2E])
        #expect(try PickleGraph.int(7).pickled() == [0x80, 4, 0x4B, 7, 0x2E])
    }

    @Test func integersOfEverySizeRoundTrip() throws {
        var values: [BigInt] = [0, 1, -1, 127, 128, 255, 256, -128, -129, 65535, 65536]
        for bits in [31, 32, 63, 64, 65, 127, 128, 2000, 2100] {
            values += [BigInt(1) << bits, -(BigInt(1) << bits), (BigInt(1) << bits) - 1, -(BigInt(1) << bits) + 1]
        }
        for value in values {
            let graph = PickleGraph.int(value)
            #expect(try PickleReader.read(try graph.pickled()).integerValue == value, "\(value)")
        }
    }

    @Test func aTupleThatContainsItselfDirectlyCannotBeWritten() {
        let graph = PickleGraph(nodes: [.tuple([0])], root: 0)
        #expect(throws: PickleError.self) { try graph.pickled() }
    }

    @Test func subgraphsResolveReferencesIntoTheRest() throws {
        // ('put', ['put']) where the inner str is the same object as the envelope's: the cut
        // value must stand alone.
        var graph = PickleGraph(.string("put"))
        let list = graph.add(.list([0]))
        graph.root = graph.add(.tuple([0, list]))
        let value = graph.subgraph(at: list)
        #expect(value.nodes == [.list([1]), .string("put")])
        #expect(try PickleReader.read(try value.pickled()) == value)
    }
}
