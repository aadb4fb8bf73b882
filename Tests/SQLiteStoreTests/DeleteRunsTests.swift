import MemoryBackend
import NIOCore
import QueueBackend
import Testing

@testable import SQLiteStore

/// Deletes are written as ranges of consecutive ids; a range must hold exactly the ids asked.
@Suite struct DeleteRunsTests {
    @Test func consecutiveIdsBecomeOneRangeAndGapsSplitThem() {
        #expect(BatchStatements.runs(of: [7, 3, 4, 5, 9]) == [3...5, 7...7, 9...9])
        #expect(BatchStatements.runs(of: [1]) == [1...1])
        #expect(BatchStatements.runs(of: [5, 5, 6, 6, 7]) == [5...7])
        #expect(BatchStatements.runs(of: Array(100..<612).shuffled()) == [100...611])
    }

    @Test func aRunNeverCrossesTheSignBoundaryOfTheStoredIds() {
        let top = UInt64(Int64.max)
        // Stored as Int64 bit patterns: Int64.max and the next id (Int64.min) sort at opposite ends.
        #expect(BatchStatements.runs(of: [top, top + 1, top - 1]) == [(top + 1)...(top + 1), (top - 1)...top])
    }

    @Test func everyIdOfEveryRunWasAsked() {
        for _ in 0..<200 {
            let ids = (0..<Int.random(in: 1...60)).map { _ in UInt64.random(in: 0...80) }
            let runs = BatchStatements.runs(of: ids)
            let covered = runs.flatMap { Array($0) }
            #expect(Set(covered) == Set(ids) && covered.count == Set(ids).count, "\(ids) → \(runs)")
        }
    }
}
