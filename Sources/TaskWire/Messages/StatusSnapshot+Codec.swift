import NIOCore
import TaskMasterStatus

// The body of a `statistics` response: the same `StatusSnapshot` that `/api/stats` shows.
//
// Numbers come as counted lists of UInt64 (durations in milliseconds), so that a newer master
// can append fields an older client skips, and an older master's missing fields read as 0.
// See docs/PROTOCOL.md, "Statistics".
extension StatusSnapshot {
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeWireCounters([
            UInt64(milliseconds: uptimeSeconds), authenticationFailures, bytesIn, bytesOut, memoryUsedBytes,
            memoryLimitBytes,
        ])
        buffer.writeInteger(UInt32(queues.count))
        for queue in queues {
            buffer.writeWireString(queue.name)
            buffer.writeWireCounters([
                UInt64(clamping: queue.depth), UInt64(clamping: queue.inFlight), UInt64(clamping: queue.maxSize),
                UInt64(clamping: queue.waitingConsumers), UInt64(clamping: queue.waitingProducers), queue.totalPut,
                queue.totalDelivered, queue.totalAcked, queue.totalNacked, queue.totalRedelivered, queue.totalDead,
                UInt64(clamping: queue.bytes), UInt64(clamping: queue.maxBytes),
            ])
        }
        buffer.writeInteger(UInt32(clients.count))
        for client in clients {
            buffer.writeWireString(client.kind.rawValue)
            buffer.writeWireString(client.address)
            buffer.writeWireString(client.name)
            buffer.writeWireCounters([
                client.id, UInt64(clamping: client.leased), UInt64(milliseconds: client.connectedSeconds),
            ])
            // Worker-reported values: a presence bit each, then the values present.
            let optional: [UInt64?] = [
                client.tasksDone, client.tasksFailed, client.workerUptimeSeconds.map { UInt64(milliseconds: $0) },
                client.lastHeartbeatSecondsAgo.map { UInt64(milliseconds: $0) },
            ]
            var present: UInt8 = 0
            for (bit, value) in optional.enumerated() where value != nil { present |= 1 << bit }
            buffer.writeInteger(present)
            for value in optional { if let value { buffer.writeInteger(value) } }
        }
    }

    init(decoding buffer: inout ByteBuffer) throws(WireError) {
        let totals = try buffer.readWireCounters("status counters")
        func total(_ index: Int) -> UInt64 { index < totals.count ? totals[index] : 0 }
        self.init(
            uptimeSeconds: Double(milliseconds: total(0)),
            authenticationFailures: total(1),
            bytesIn: total(2),
            bytesOut: total(3),
            memoryUsedBytes: total(4),
            memoryLimitBytes: total(5)
        )
        let queueCount = try buffer.readWireCount("queues", minimumSize: 2 + 1)
        queues.reserveCapacity(queueCount)
        for _ in 0..<queueCount {
            let name = try buffer.readWireString("queue name")
            let counters = try buffer.readWireCounters("queue counters")
            func counter(_ index: Int) -> UInt64 { index < counters.count ? counters[index] : 0 }
            queues.append(
                QueueStatus(
                    name: name,
                    depth: Int(clamping: counter(0)),
                    inFlight: Int(clamping: counter(1)),
                    maxSize: Int(clamping: counter(2)),
                    waitingConsumers: Int(clamping: counter(3)),
                    waitingProducers: Int(clamping: counter(4)),
                    totalPut: counter(5),
                    totalDelivered: counter(6),
                    totalAcked: counter(7),
                    totalNacked: counter(8),
                    totalRedelivered: counter(9),
                    totalDead: counter(10)
                )
            )
            queues[queues.count - 1].bytes = Int(clamping: counter(11))
            queues[queues.count - 1].maxBytes = Int(clamping: counter(12))
        }
        let clientCount = try buffer.readWireCount("clients", minimumSize: 2 + 2 + 2 + 1 + 1)
        clients.reserveCapacity(clientCount)
        for _ in 0..<clientCount {
            let kind = ClientKind(rawValue: try buffer.readWireString("client kind"))
            let address = try buffer.readWireString("client address")
            let name = try buffer.readWireString("client name")
            let counters = try buffer.readWireCounters("client counters")
            func counter(_ index: Int) -> UInt64 { index < counters.count ? counters[index] : 0 }
            let present = try buffer.readWire(UInt8.self, "client report flags")
            var optional: [UInt64?] = []
            for bit in 0..<8 {
                optional.append(
                    present & (1 << bit) != 0 ? try buffer.readWire(UInt64.self, "client report value") : nil
                )
            }
            clients.append(
                ClientStatus(
                    id: counter(0),
                    kind: kind,
                    address: address,
                    name: name,
                    leased: Int(clamping: counter(1)),
                    connectedSeconds: Double(milliseconds: counter(2)),
                    tasksDone: optional[0],
                    tasksFailed: optional[1],
                    workerUptimeSeconds: optional[2].map { Double(milliseconds: $0) },
                    lastHeartbeatSecondsAgo: optional[3].map { Double(milliseconds: $0) }
                )
            )
        }
    }
}

extension ByteBuffer {
    /// A count (UInt8) and that many UInt64s.
    fileprivate mutating func writeWireCounters(_ counters: [UInt64]) {
        writeInteger(UInt8(counters.count))
        for counter in counters { writeInteger(counter) }
    }

    fileprivate mutating func readWireCounters(_ field: StaticString) throws(WireError) -> [UInt64] {
        let count = Int(try readWire(UInt8.self, field))
        guard readableBytes >= count * 8 else {
            throw .malformed("\(field): \(count) counters but \(readableBytes) bytes")
        }
        var counters: [UInt64] = []
        counters.reserveCapacity(count)
        for _ in 0..<count { counters.append(try readWire(UInt64.self, field)) }
        return counters
    }
}

extension UInt64 {
    /// Seconds as whole milliseconds (negative and non-finite as 0).
    /// Durations on the wire stop at 2^50 ms (some 35,000 years): below that a count of
    /// milliseconds survives the trip through seconds as a `Double` (two roundings, each off
    /// by at most 2^-53 of the value: under a quarter of a millisecond). At 2^52 it did not
    /// (FuzzMessageCodec found 816 ms coming back as 817).
    fileprivate static let maxMilliseconds: UInt64 = 1 << 50

    fileprivate init(milliseconds seconds: Double) {
        let limit = Double(Self.maxMilliseconds)
        self = seconds.isFinite && seconds > 0 ? UInt64(Swift.min(seconds * 1000, limit).rounded()) : 0
    }
}

extension Double {
    fileprivate init(milliseconds: UInt64) {
        self = Double(Swift.min(milliseconds, UInt64.maxMilliseconds)) / 1000
    }
}
