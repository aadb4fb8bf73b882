import MemoryBackend
import NIOCore
import QueueBackend
import Testing

@testable import SQLiteStore

/// A chunk row's blob, and which inserts go into chunks.
@Suite struct ChunkRecordsTests {
    private func task(_ id: TaskID, _ queue: String = "q", attempt: UInt32 = 0, bytes: Int = 1) -> StoredTask {
        StoredTask(
            id: id,
            queue: queue,
            reference: id &* 7,
            attempt: attempt,
            payload: ByteBuffer(repeating: UInt8(id % 251), count: bytes)
        )
    }

    @Test func tasksComeBackWithTheirIdsReferencesAndPayloads() throws {
        let tasks = [task(5, bytes: 3), task(6, bytes: 0), task(7, bytes: 300)]
        var bytes: [UInt8] = []
        ChunkRecords.encode(tasks[...], into: &bytes)
        let decoded = try #require(ChunkRecords.decode(ByteBuffer(bytes: bytes), firstID: 5, count: 3))
        #expect(decoded.map(\.id) == [5, 6, 7])
        #expect(decoded.map(\.reference) == [35, 42, 49])
        #expect(decoded.map(\.payload) == tasks.map(\.payload))
    }

    @Test func aBlobOfTheWrongSizeIsRefused() {
        var bytes: [UInt8] = []
        ChunkRecords.encode([task(1), task(2)][...], into: &bytes)
        #expect(ChunkRecords.decode(ByteBuffer(bytes: bytes.dropLast()), firstID: 1, count: 2) == nil)
        #expect(ChunkRecords.decode(ByteBuffer(bytes: bytes + [0]), firstID: 1, count: 2) == nil)
        #expect(ChunkRecords.decode(ByteBuffer(bytes: bytes), firstID: 1, count: 3) == nil)
    }

    @Test func runsBreakAtGapsQueuesRetriesAndTheSizeLimits() {
        let inserts = [
            task(1), task(2), task(3),  // a run
            task(5),  // a gap before it
            task(6, "other"),  // another queue
            task(7, "other", attempt: 1),  // not a fresh task: alone
            task(8, "other"), task(9, "other"),
        ]
        #expect(ChunkRecords.runs(of: inserts) == [0..<3, 3..<4, 4..<5, 5..<6, 6..<8])
        let many = (1...TaskID(ChunkRecords.maxTasks + 1)).map { task($0) }
        #expect(
            ChunkRecords.runs(of: many) == [
                0..<ChunkRecords.maxTasks, ChunkRecords.maxTasks..<(ChunkRecords.maxTasks + 1),
            ]
        )
        let large = (1...3).map { task($0, bytes: ChunkRecords.maxBytes / 2) }
        #expect(ChunkRecords.runs(of: large) == [0..<1, 1..<2, 2..<3])
        let top = TaskID(Int64.max)
        #expect(ChunkRecords.runs(of: [task(top - 1), task(top), task(top + 1)]) == [0..<2, 2..<3])
        #expect(ChunkRecords.runs(of: []) == [])
    }
}
