import NIOCore
import TaskMasterStatus

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

    /// About how many bytes ``encode(into:)`` writes, to reserve them at once.
    public var encodedSizeEstimate: Int {
        switch message {
        case .deliveries(let deliveries):
            return 16 + deliveries.reduce(0) { $0 + 24 + $1.payload.readableBytes }  // exact
        case .putAccepted(let ids): return 16 + 8 * ids.count
        case .completed(let outcome): return 24 + 8 * (outcome.ack.unknown.count + outcome.resultIDs.count)
        default: return 64
        }
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
            let size = deliveries.reduce(0) { $0 + 24 + $1.payload.readableBytes }
            RecordWriter.write(size, into: &buffer) { writer in
                for delivery in deliveries {
                    writer.integer(delivery.id)
                    writer.integer(delivery.attempt)
                    writer.integer(delivery.reference)
                    writer.integer(UInt32(delivery.payload.readableBytes))
                    writer.payload(delivery.payload)
                }
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
                let payload = try buffer.readWireSlice("payload")
                deliveries.append(Delivery(id: id, attempt: attempt, reference: reference, payload: payload))
            }
            message = .deliveries(deliveries)
        case .acknowledged:
            message = .acknowledged(try AckOutcome(decoding: &buffer))
        case .completed:
            let ack = try AckOutcome(decoding: &buffer)
            message = .completed(CompleteOutcome(ack: ack, resultIDs: try buffer.readWireIDs("result ids")))
        case .statistics:
            message = .statistics(try StatusSnapshot(decoding: &buffer))
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
