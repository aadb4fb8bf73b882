import QueueBackend
import Testing

@testable import SQLiteStore

/// The chunk index: which ids of which chunk rows are done, and when a row can go.
@Suite struct ChunkIndexTests {
    @Test func aRangeDoneAcrossTwoChunksIsSplitAtTheirBounds() {
        var index = ChunkIndex()
        index.add(10...19)
        index.add(20...29)
        let done = index.markDone(15...24)
        #expect(
            done == [
                .init(chunk: 10...19, pieces: [15...19], emptied: false),
                .init(chunk: 20...29, pieces: [20...24], emptied: false),
            ]
        )
        let rest = index.markDone(10...14)
        #expect(rest == [.init(chunk: 10...19, pieces: [10...14], emptied: true)])
        #expect(index.liveCount == 1)
    }

    @Test func idsDoneTwiceCountOnceAndOnlyTheNewPartsAreReported() {
        var index = ChunkIndex()
        index.add(1...10)
        _ = index.markDone(3...4)
        _ = index.markDone(7...7)
        let first = index.markDone(1...8)
        #expect(first == [.init(chunk: 1...10, pieces: [1...2, 5...6, 8...8], emptied: false)])
        #expect(index.all[0].done == [1...8], "done ranges that meet are joined")
        let again = index.markDone(2...6)
        #expect(again == [])
        let last = index.markDone(9...10)
        #expect(last == [.init(chunk: 1...10, pieces: [9...10], emptied: true)])
        let afterwards = index.markDone(1...10)
        #expect(afterwards == [], "an emptied chunk reports nothing more")
    }

    @Test func idsOutsideEveryChunkChangeNothing() {
        var index = ChunkIndex()
        index.add(10...12)
        let before = index.markDone(1...9)
        let after = index.markDone(13...20)
        #expect(before == [] && after == [])
        #expect(index.chunk(holding: 9) == nil && index.chunk(holding: 13) == nil)
        #expect(index.all.map(\.doneCount) == [0])
    }

    @Test func aTaskIsHeldByItsChunkUntilItIsDone() {
        var index = ChunkIndex()
        index.add(1...4)
        #expect(index.chunk(holding: 2) == 1 && index.chunk(holding: 4) == 1)
        _ = index.markDone(2...2)
        #expect(index.chunk(holding: 2) == nil, "a done task is in no chunk any more")
        #expect(index.chunk(holding: 3) == 1)
    }

    @Test func overlapsSeesOnlyChunksWithTasksNotDone() {
        var index = ChunkIndex()
        index.add(1...4)
        index.add(10...12)
        #expect(index.overlaps(4...5) && index.overlaps(0...1) && index.overlaps(11...11) && index.overlaps(0...100))
        #expect(!index.overlaps(5...9) && !index.overlaps(13...20))
        _ = index.markDone(10...12)
        #expect(!index.overlaps(10...12), "an emptied chunk holds nothing")
    }

    @Test func chunksAddedOutOfOrderAreFoundAndRangesAreClampedToThem() {
        var index = ChunkIndex()
        index.add(100...109)
        index.add(50...59)
        index.add(0...9)
        #expect(index.all.map(\.ids) == [0...9, 50...59, 100...109])
        let outside = index.markDone(40...45)
        let clamped = index.markDone(58...70)
        _ = index.markDone(50...54)
        #expect(outside == [] && clamped.map(\.pieces) == [[58...59]])
        #expect(index.all.map(\.doneCount) == [0, 7, 0])
        let all = index.markDone(0...200)
        #expect(all.map(\.pieces) == [[0...9], [55...57], [100...109]])
        #expect(index.liveCount == 0)
    }

    /// Against a plain set of live ids: many chunks, done in random ranges, with the emptied
    /// ones dropped from the array along the way.
    @Test func randomRangesAgreeWithASetOfLiveIds() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            var index = ChunkIndex()
            var live = Set<TaskID>()
            var next: TaskID = 1
            for _ in 0..<300 {
                let size = TaskID.random(in: 1...8, using: &generator)
                index.add(next...(next + size - 1))
                live.formUnion(next...(next + size - 1))
                next += size
            }
            while !live.isEmpty {
                let start = TaskID.random(in: 1..<next, using: &generator)
                let range = start...min(next, start + TaskID.random(in: 0...20, using: &generator))
                let reported = index.markDone(range).flatMap { $0.pieces.flatMap { Array($0) } }
                let expected = live.intersection(range)
                #expect(Set(reported) == expected && reported.count == expected.count)
                live.subtract(range)
            }
            #expect(index.liveCount == 0)
        }
    }
}
