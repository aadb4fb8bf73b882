import NIOCore
import Pickle
import TaskWorkerRuntime
import Testing

@testable import SquaringJobs

/// The squaring job on the worker runtime: what task-worker puts for each task.
@Suite struct SquaringJobTests {
    @Test func numbersAreSquaredAndAnythingElseFailsWithTheResultTaskWorkerAlwaysPut() async throws {
        let tasks = [Square.task(12), Square.task(-5), PickleWriter.pickle(string: "seven"), [0xFF]].map {
            WorkerTask(id: 1, attempt: 1, payload: $0)
        }
        let answers = await SquaringJob().results(for: tasks)
        #expect(try answers[0].get() == Square.resultPickle(12))
        #expect(try answers[1].get() == PickleWriter.pickle(string: "-5 * -5 = 25"))
        for (answer, task) in zip(answers[2...], tasks[2...]) {
            #expect(throws: WorkerError.self) { try answer.get() }
            guard case .failure(let error as WorkerError) = answer else { continue }
            #expect(error.code == .taskFailed)
            // The result is the error text the squaring worker has always put, "error: …".
            #expect(error.result == PickleWriter.pickle(string: Square.outcome(forTask: task.payload).text))
            #expect(!error.message.hasPrefix("error: "))
        }
    }
}

/// The squaring fast paths (an integer read without the general pickle reader, the result
/// built and compared in place) against the general reader and writer.
@Suite struct SquareFastPathTests {
    /// Integers at every pickle opcode's edges, and where the square stops fitting 64 bits.
    static let numbers: [Int] = [
        0, 1, -1, 9, 10, 255, 256, 65_535, 65_536, -65_536, Int(Int32.max), Int(Int32.min), Int(Int32.max) + 1,
        3_037_000_499, -3_037_000_499, 3_037_000_500, Int.max, Int.min, 123_456_789_012,
    ]

    @Test(arguments: numbers)
    func theResultIsTheGeneralWritersPickleOfTheLine(_ n: Int) throws {
        let general = PickleWriter.pickle(string: Square.line(n))
        #expect(Square.resultPickle(n) == general)
        #expect(Square.isResultPickle(ByteBuffer(bytes: general), of: n))
        #expect(!Square.isResultPickle(ByteBuffer(bytes: general), of: n &+ 1))
        #expect(!Square.isResultPickle(ByteBuffer(bytes: general.dropLast()), of: n))
        #expect(Square.result(forTask: Square.task(n)) == (general, false))
    }

    @Test(arguments: numbers)
    func anIntegerIsReadAsTheGeneralReaderReadsIt(_ n: Int) throws {
        let pickle = Square.task(n)
        #expect(PickleReader.integer(in: pickle) == n)
        #expect(try PickleReader.read(pickle).rootNode == .int(n))
    }

    @Test func otherPicklesAreLeftToTheGeneralReader() {
        #expect(PickleReader.integer(in: PickleWriter.pickle(string: "7")) == nil)
        #expect(PickleReader.integer(in: [0x80, 0x04, 0x4B, 0x07]) == nil)  // no STOP
        #expect(PickleReader.integer(in: []) == nil)
        #expect(Square.result(forTask: PickleWriter.pickle(string: "7")).failed)
    }
}

extension SquareFastPathTests {
    @Test func taskItemsAreEachNumbersPickle() throws {
        let items = Square.taskItems(Self.numbers)
        #expect(items.map { Array($0.payload.readableBytesView) } == Self.numbers.map { Square.task($0) })
        #expect(items.allSatisfy { $0.reference == 0 })
        for n in Self.numbers {
            #expect(try PickleReader.read(PickleWriter.pickle(integer: n)).rootNode == .int(n))
        }
    }
}
