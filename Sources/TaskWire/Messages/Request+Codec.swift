import NIOCore

extension Request {
    private enum Kind: UInt8 {
        case put = 0x01
        case get = 0x02
        case ack = 0x03
        case nack = 0x04
        case complete = 0x05
        case stats = 0x06
        case ping = 0x07
        case heartbeat = 0x08
        case peek = 0x09
        case maintain = 0x0A
    }

    /// Writes the frame payload.
    public func encode(into buffer: inout ByteBuffer) {
        switch message {
        case .put(let queue, let items, let wait):
            MessageHeader(type: Kind.put.rawValue, requestID: id).encode(into: &buffer)
            buffer.writeWireString(queue)
            buffer.writeInteger(wait.wireValue)
            buffer.writeWireItems(items)
        case .get(let queue, let maxItems, let wait):
            MessageHeader(type: Kind.get.rawValue, requestID: id).encode(into: &buffer)
            buffer.writeWireString(queue)
            buffer.writeInteger(maxItems)
            buffer.writeInteger(wait.wireValue)
        case .ack(let queue, let ids):
            MessageHeader(type: Kind.ack.rawValue, requestID: id).encode(into: &buffer)
            buffer.writeWireString(queue)
            buffer.writeWireIDs(ids)
        case .nack(let queue, let ids):
            MessageHeader(type: Kind.nack.rawValue, requestID: id).encode(into: &buffer)
            buffer.writeWireString(queue)
            buffer.writeWireIDs(ids)
        case .complete(let taskQueue, let ids, let resultQueue, let results):
            MessageHeader(type: Kind.complete.rawValue, requestID: id).encode(into: &buffer)
            buffer.writeWireString(taskQueue)
            buffer.writeWireIDs(ids)
            buffer.writeWireString(resultQueue)
            buffer.writeWireItems(results)
        case .stats:
            MessageHeader(type: Kind.stats.rawValue, requestID: id).encode(into: &buffer)
        case .ping:
            MessageHeader(type: Kind.ping.rawValue, requestID: id).encode(into: &buffer)
        case .heartbeat(let report):
            MessageHeader(type: Kind.heartbeat.rawValue, requestID: id).encode(into: &buffer)
            buffer.writeInteger(report.tasksDone)
            buffer.writeInteger(report.tasksFailed)
            buffer.writeInteger(report.uptimeSeconds)
        case .peek(let queue, let maxItems):
            MessageHeader(type: Kind.peek.rawValue, requestID: id).encode(into: &buffer)
            buffer.writeWireString(queue)
            buffer.writeInteger(maxItems)
        case .maintain(let queue, let operation):
            MessageHeader(type: Kind.maintain.rawValue, requestID: id).encode(into: &buffer)
            buffer.writeWireString(queue)
            buffer.writeInteger(operation.rawValue)
        }
    }

    /// Reads a frame payload.
    public init(decoding frame: ByteBuffer) throws(WireError) {
        var buffer = frame
        let header = try MessageHeader.decode(from: &buffer)
        guard let kind = Kind(rawValue: header.type) else {
            throw WireError(.unknownMessageType, "unknown request type 0x\(String(header.type, radix: 16))")
        }
        let message: ClientMessage
        switch kind {
        case .put:
            let queue = try buffer.readWireString("queue")
            let wait = WaitTime(wireValue: try buffer.readWire(UInt32.self, "wait"))
            message = .put(queue: queue, items: try buffer.readWireItems("items"), wait: wait)
        case .get:
            let queue = try buffer.readWireString("queue")
            let maxItems = try buffer.readWire(UInt32.self, "max items")
            let wait = WaitTime(wireValue: try buffer.readWire(UInt32.self, "wait"))
            message = .get(queue: queue, maxItems: maxItems, wait: wait)
        case .ack:
            let queue = try buffer.readWireString("queue")
            message = .ack(queue: queue, ids: try buffer.readWireIDs("ids"))
        case .nack:
            let queue = try buffer.readWireString("queue")
            message = .nack(queue: queue, ids: try buffer.readWireIDs("ids"))
        case .complete:
            let taskQueue = try buffer.readWireString("task queue")
            let ids = try buffer.readWireIDs("ids")
            let resultQueue = try buffer.readWireString("result queue")
            let results = try buffer.readWireItems("results")
            message = .complete(taskQueue: taskQueue, ids: ids, resultQueue: resultQueue, results: results)
        case .stats:
            message = .stats
        case .ping:
            message = .ping
        case .heartbeat:
            let done = try buffer.readWire(UInt64.self, "tasks done")
            let failed = try buffer.readWire(UInt64.self, "tasks failed")
            let uptime = try buffer.readWire(UInt64.self, "uptime")
            message = .heartbeat(WorkerReport(tasksDone: done, tasksFailed: failed, uptimeSeconds: uptime))
        case .peek:
            let queue = try buffer.readWireString("queue")
            message = .peek(queue: queue, maxItems: try buffer.readWire(UInt32.self, "max items"))
        case .maintain:
            let queue = try buffer.readWireString("queue")
            let raw = try buffer.readWire(UInt8.self, "operation")
            guard let operation = MaintenanceOperation(rawValue: raw) else {
                throw .malformed("unknown maintenance operation \(raw)")
            }
            message = .maintain(queue: queue, operation: operation)
        }
        try buffer.ensureFullyRead("the request")
        self.init(id: header.requestID, message)
    }

    /// The request id of a frame whose header is readable, even if the rest is not.
    public static func peekID(_ frame: ByteBuffer) -> RequestID? {
        MessageHeader.peekRequestID(frame)
    }
}
