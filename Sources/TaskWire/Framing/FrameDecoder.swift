import NIOCore

/// Splits a byte stream into frames: a signed 32-bit big-endian length, then that many bytes.
///
/// This is the framing of Python's `multiprocessing.connection`, so one port can serve both
/// native and Python peers. A length of `-1` announces Python's long form: an unsigned 64-bit
/// big-endian length follows. The maximum is checked as soon as the header is complete,
/// so an announced size over the limit is refused before a single payload byte is buffered.
///
/// The decoder is a plain value: feed it bytes, take frames out. It never touches a socket.
public struct FrameDecoder: Sendable {
    /// The largest payload accepted, in bytes. Can be changed between frames
    /// (the handshake runs with 256 bytes, like Python's `recv_bytes(256)`).
    public var maximumFrameLength: Int

    /// A decoder that refuses frames larger than `maximumFrameLength` bytes.
    public init(maximumFrameLength: Int) {
        precondition(maximumFrameLength >= 0, "maximumFrameLength must not be negative")
        self.maximumFrameLength = maximumFrameLength
    }

    /// Takes one complete frame's payload out of `buffer`, or returns `nil` and consumes
    /// nothing when the frame is not complete yet.
    ///
    /// - Throws: ``WireError`` with code `.frameTooLarge` or `.invalidFrameLength`
    ///   as soon as the header shows the frame can't be accepted.
    public func decodeFrame(from buffer: inout ByteBuffer) throws(WireError) -> ByteBuffer? {
        guard let short = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else {
            return nil
        }
        let headerLength: Int
        let length: Int
        if short >= 0 {
            headerLength = 4
            length = Int(short)
        } else if short == -1 {
            guard let long = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt64.self) else {
                return nil
            }
            headerLength = 12
            guard long <= UInt64(maximumFrameLength) else {
                throw Self.tooLarge(announced: "\(long)", maximum: maximumFrameLength)
            }
            length = Int(long)
        } else {
            throw WireError(
                .invalidFrameLength,
                "invalid frame header: length \(short) is negative (only -1, Python's long form, is allowed)"
            )
        }
        guard length <= maximumFrameLength else {
            throw Self.tooLarge(announced: "\(length)", maximum: maximumFrameLength)
        }
        guard buffer.readableBytes >= headerLength + length else { return nil }
        buffer.moveReaderIndex(forwardBy: headerLength)
        return buffer.readSlice(length: length)
    }

    private static func tooLarge(announced: String, maximum: Int) -> WireError {
        WireError(
            .frameTooLarge,
            "frame of \(announced) bytes refused: the limit is \(maximum) bytes"
                + " (raise max_frame_bytes on both sides if such frames are expected)"
        )
    }
}
