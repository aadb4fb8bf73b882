import NIOCore

/// Writes frame headers in the framing ``FrameDecoder`` reads.
public enum FrameEncoder {
    /// The header for a payload of `length` bytes: 4 bytes, or Python's 12-byte long form
    /// (`-1` then a 64-bit length) for payloads over 2 GiB.
    public static func writeHeader(length: Int, into buffer: inout ByteBuffer) {
        precondition(length >= 0, "a frame length can't be negative")
        if length <= Int(Int32.max) {
            buffer.writeInteger(Int32(length))
        } else {
            buffer.writeInteger(Int32(-1))
            buffer.writeInteger(UInt64(length))
        }
    }

    /// A whole frame: header and payload.
    public static func frame(_ payload: some Collection<UInt8>) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(payload.count + 4)
        writeHeader(length: payload.count, into: &buffer)
        buffer.writeBytes(payload)
        return buffer
    }
}
