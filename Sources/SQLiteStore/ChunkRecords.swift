import MemoryBackend
import NIOCore
import QueueBackend

/// The `tasks` blob of a chunk row: for each task, in id order, its reference (8 bytes) and its
/// payload's length (4 bytes), little-endian, then the payload.
enum ChunkRecords {
    /// The most tasks, and about the most payload bytes, one chunk row holds: a chunk stays on
    /// disk until its last task is done, so one slow task keeps at most this much.
    static let maxTasks = 4096
    static let maxBytes = 1 << 20

    static let headerSize = 12

    /// One task of a chunk as stored: its id (the chunk's first id plus its place), reference
    /// and payload.
    typealias Record = (id: TaskID, reference: TaskID, payload: ByteBuffer)

    /// Encodes `tasks` (consecutive ids, one queue) into `bytes`, replacing what it held.
    static func encode(_ tasks: ArraySlice<StoredTask>, into bytes: inout [UInt8]) {
        bytes.removeAll(keepingCapacity: true)
        bytes.reserveCapacity(tasks.reduce(0) { $0 + headerSize + $1.payload.readableBytes })
        for task in tasks {
            withUnsafeBytes(of: Int64(bitPattern: task.reference).littleEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt32(task.payload.readableBytes).littleEndian) { bytes.append(contentsOf: $0) }
            task.payload.withUnsafeReadableBytes { bytes.append(contentsOf: $0) }
        }
    }

    /// Decodes a chunk's blob into its tasks (payloads are slices of `blob`), or nil if the
    /// blob does not hold exactly `count` records.
    static func decode(
        _ blob: ByteBuffer,
        firstID: TaskID,
        count: Int
    ) -> [Record]? {
        var blob = blob
        var tasks: [Record] = []
        tasks.reserveCapacity(count)
        for offset in 0..<count {
            guard let reference = blob.readInteger(endianness: .little, as: Int64.self),
                let length = blob.readInteger(endianness: .little, as: UInt32.self),
                let payload = blob.readSlice(length: Int(length))
            else { return nil }
            tasks.append((firstID &+ TaskID(offset), TaskID(bitPattern: reference), payload))
        }
        return blob.readableBytes == 0 ? tasks : nil
    }

    /// Splits `inserts` (in id order) into what goes into chunk rows and what into single rows:
    /// runs of consecutive ids on one queue, as new tasks are (first attempt, no error),
    /// within the size limits and not crossing the sign of the stored ids.
    static func runs(of inserts: [StoredTask]) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var start = 0
        var bytes = 0
        for index in inserts.indices {
            let task = inserts[index]
            let fresh = task.attempt == 0 && task.error == nil
            if index > start {
                let previous = inserts[index - 1]
                let continues =
                    fresh && previous.attempt == 0 && previous.error == nil
                    && previous.id != TaskID(Int64.max) && task.id == previous.id &+ 1
                    && task.queue == previous.queue && index - start < maxTasks
                    && bytes + headerSize + task.payload.readableBytes <= maxBytes
                if !continues {
                    runs.append(start..<index)
                    start = index
                    bytes = 0
                }
            }
            bytes += headerSize + task.payload.readableBytes
        }
        if !inserts.isEmpty { runs.append(start..<inserts.count) }
        return runs
    }
}
