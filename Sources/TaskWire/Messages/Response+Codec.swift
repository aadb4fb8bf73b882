import NIOCore

extension Response {
    private enum Kind: UInt8 {
        case putAccepted = 0x81
        case deliveries = 0x82
        case acknowledged = 0x83
        case completed = 0x84
        case statistics = 0x85
        case pong = 0x86
        case error = 0xFF
    }

    /// Writes the frame payload.
    public func encode(into buffer: inout ByteBuffer) {
        switch message {
        case .putAccepted(let ids):
            MessageHeader(type: Kind.putAccepted.rawValue, requestID: requestID).encode(into: &buffer)
            buffer.writeWireIDs(ids)
        case .deliveries(let deliveries):
            MessageHeader(type: Kind.deliveries.rawValue, requestID: requestID).encode(into: &buffer)
            buffer.writeInteger(UInt32(deliveries.count))
            for delivery in deliveries {
                buffer.writeInteger(delivery.id)
                buffer.writeInteger(delivery.attempt)
                buffer.writeInteger(delivery.reference)
                buffer.writeInteger(UInt32(delivery.payload.count))
                buffer.writeBytes(delivery.payload)
            }
        case .acknowledged(let outcome):
            MessageHeader(type: Kind.acknowledged.rawValue, requestID: requestID).encode(into: &buffer)
            outcome.encode(into: &buffer)
        case .completed(let outcome):
            MessageHeader(type: Kind.completed.rawValue, requestID: requestID).encode(into: &buffer)
            outcome.ack.encode(into: &buffer)
            buffer.writeWireIDs(outcome.resultIDs)
        case .statistics(let statistics):
            MessageHeader(type: Kind.statistics.rawValue, requestID: requestID).encode(into: &buffer)
            statistics.encode(into: &buffer)
        case .pong:
            MessageHeader(type: Kind.pong.rawValue, requestID: requestID).encode(into: &buffer)
        case .error(let reply):
            MessageHeader(type: Kind.error.rawValue, requestID: requestID).encode(into: &buffer)
            buffer.writeInteger(reply.code.rawValue)
            buffer.writeWireString(reply.message)
            buffer.writeWireIDs(reply.acceptedIDs)
        }
    }

    /// Reads a frame payload.
    public init(decoding frame: ByteBuffer) throws(WireError) {
        var buffer = frame
        let header = try MessageHeader.decode(from: &buffer)
        guard let kind = Kind(rawValue: header.type) else {
            throw WireError(.unknownMessageType, "unknown response type 0x\(String(header.type, radix: 16))")
        }
        let message: ServerMessage
        switch kind {
        case .putAccepted:
            message = .putAccepted(try buffer.readWireIDs("ids"))
        case .deliveries:
            let count = try buffer.readWireCount("deliveries", minimumSize: 24)
            var deliveries: [Delivery] = []
            deliveries.reserveCapacity(count)
            for _ in 0..<count {
                let id = try buffer.readWire(TaskID.self, "delivery id")
                let attempt = try buffer.readWire(UInt32.self, "attempt")
                let reference = try buffer.readWire(TaskID.self, "reference")
                let payload = try buffer.readWireBytes("payload")
                deliveries.append(Delivery(id: id, attempt: attempt, reference: reference, payload: payload))
            }
            message = .deliveries(deliveries)
        case .acknowledged:
            message = .acknowledged(try AckOutcome(decoding: &buffer))
        case .completed:
            let ack = try AckOutcome(decoding: &buffer)
            message = .completed(CompleteOutcome(ack: ack, resultIDs: try buffer.readWireIDs("result ids")))
        case .statistics:
            message = .statistics(try ServerStatistics(decoding: &buffer))
        case .pong:
            message = .pong
        case .error:
            let code = ErrorReply.Code(rawValue: try buffer.readWire(UInt16.self, "error code"))
            let text = try buffer.readWireString("error message")
            let accepted = try buffer.readWireIDs("accepted ids")
            message = .error(ErrorReply(code: code, message: text, acceptedIDs: accepted))
        }
        try buffer.ensureFullyRead("the response")
        self.init(requestID: header.requestID, message)
    }
}

extension AckOutcome {
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(count)
        buffer.writeWireIDs(unknown)
    }

    init(decoding buffer: inout ByteBuffer) throws(WireError) {
        let count = try buffer.readWire(UInt32.self, "ack count")
        self.init(count: count, unknown: try buffer.readWireIDs("unknown ids"))
    }
}

extension ServerStatistics {
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(uptimeSeconds)
        buffer.writeInteger(UInt32(queues.count))
        for queue in queues {
            buffer.writeWireString(queue.name)
            for counter in [
                queue.depth, queue.inFlight, queue.maxSize, queue.waitingConsumers, queue.totalPut,
                queue.totalDelivered, queue.totalAcked, queue.totalNacked, queue.totalRedelivered, queue.totalDead,
            ] {
                buffer.writeInteger(counter)
            }
        }
        buffer.writeInteger(UInt32(clients.count))
        for client in clients {
            buffer.writeInteger(client.kind.rawValue)
            buffer.writeWireString(client.address)
            buffer.writeWireString(client.name)
            buffer.writeInteger(client.leased)
            buffer.writeInteger(client.connectedSeconds)
            if let report = client.lastReport {
                buffer.writeInteger(UInt8(1))
                buffer.writeInteger(report.tasksDone)
                buffer.writeInteger(report.tasksFailed)
                buffer.writeInteger(report.uptimeSeconds)
                buffer.writeInteger(client.secondsSinceReport)
            } else {
                buffer.writeInteger(UInt8(0))
            }
        }
    }

    init(decoding buffer: inout ByteBuffer) throws(WireError) {
        let uptime = try buffer.readWire(UInt64.self, "uptime")
        let queueCount = try buffer.readWireCount("queues", minimumSize: 2 + 10 * 8)
        var queues: [QueueStatistics] = []
        queues.reserveCapacity(queueCount)
        for _ in 0..<queueCount {
            let name = try buffer.readWireString("queue name")
            var counters: [UInt64] = []
            for _ in 0..<10 { counters.append(try buffer.readWire(UInt64.self, "queue counter")) }
            var statistics =
                QueueStatistics(
                    name: name,
                    depth: counters[0],
                    inFlight: counters[1],
                    maxSize: counters[2],
                    waitingConsumers: counters[3],
                    totalPut: counters[4],
                    totalDelivered: counters[5],
                    totalAcked: counters[6],
                    totalNacked: counters[7],
                    totalRedelivered: counters[8]
                )
            statistics.totalDead = counters[9]
            queues.append(statistics)
        }
        let clientCount = try buffer.readWireCount("clients", minimumSize: 1 + 2 + 2 + 8 + 8 + 1)
        var clients: [ClientStatistics] = []
        clients.reserveCapacity(clientCount)
        for _ in 0..<clientCount {
            let rawKind = try buffer.readWire(UInt8.self, "client kind")
            guard let kind = ClientStatistics.Kind(rawValue: rawKind) else {
                throw .malformed("unknown client kind \(rawKind)")
            }
            let address = try buffer.readWireString("client address")
            let name = try buffer.readWireString("client name")
            let leased = try buffer.readWire(UInt64.self, "client leased")
            var client = ClientStatistics(kind: kind, address: address, name: name, leased: leased)
            client.connectedSeconds = try buffer.readWire(UInt64.self, "connected seconds")
            if try buffer.readWire(UInt8.self, "report flag") == 1 {
                let done = try buffer.readWire(UInt64.self, "tasks done")
                let failed = try buffer.readWire(UInt64.self, "tasks failed")
                let uptime = try buffer.readWire(UInt64.self, "worker uptime")
                client.lastReport = WorkerReport(tasksDone: done, tasksFailed: failed, uptimeSeconds: uptime)
                client.secondsSinceReport = try buffer.readWire(UInt64.self, "seconds since report")
            }
            clients.append(client)
        }
        self.init(queues: queues, clients: clients, uptimeSeconds: uptime)
    }
}
