import NIOCore

/// The 6 bytes that start every native message after the hello:
/// protocol version, message type, request id.
struct MessageHeader {
    static let size = 6

    var type: UInt8
    var requestID: RequestID

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(Hello.currentVersion)
        buffer.writeInteger(type)
        buffer.writeInteger(requestID)
    }

    static func decode(from buffer: inout ByteBuffer) throws(WireError) -> MessageHeader {
        let version = try buffer.readWire(UInt8.self, "version")
        guard version == Hello.currentVersion else {
            throw WireError(
                .unsupportedVersion,
                "message of protocol version \(version); this side speaks version \(Hello.currentVersion)"
            )
        }
        let type = try buffer.readWire(UInt8.self, "message type")
        let requestID = try buffer.readWire(RequestID.self, "request id")
        return MessageHeader(type: type, requestID: requestID)
    }

    /// The request id of a frame, if its header is there, even when the rest is unreadable:
    /// an error answer can then name the request it refuses.
    static func peekRequestID(_ frame: ByteBuffer) -> RequestID? {
        frame.getInteger(at: frame.readerIndex + 2, as: RequestID.self)
    }
}
