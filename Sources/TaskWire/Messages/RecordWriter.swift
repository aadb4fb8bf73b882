import NIOCore

/// Writes many fixed-size fields and payloads into a region of a `ByteBuffer` reserved at once.
///
/// A `ByteBuffer` write checks the buffer's uniqueness, its capacity and (as a class access)
/// exclusivity every time: for a delivery of 512 tasks at 5 writes each, those checks cost
/// more than the bytes. Writing the whole list through one pointer checks once.
struct RecordWriter {
    private let bytes: UnsafeMutableRawBufferPointer
    private(set) var offset = 0

    private init(_ bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
    }

    /// Writes exactly `size` bytes into `buffer` with `body`, which must write all of them.
    static func write(_ size: Int, into buffer: inout ByteBuffer, _ body: (inout RecordWriter) -> Void) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { region in
            var writer = RecordWriter(UnsafeMutableRawBufferPointer(rebasing: region[..<size]))
            body(&writer)
            precondition(writer.offset == size, "a record list wrote \(writer.offset) of its \(size) bytes")
            return size
        }
    }

    /// A big-endian integer.
    mutating func integer<T: FixedWidthInteger>(_ value: T) {
        precondition(offset + MemoryLayout<T>.size <= bytes.count, "record list past its size")
        bytes.storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
    }

    /// The readable bytes of `payload`.
    mutating func payload(_ payload: ByteBuffer) {
        let count = payload.readableBytes
        precondition(offset + count <= bytes.count, "record list past its size")
        payload.withUnsafeReadableBytes { source in
            UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<(offset + count)]).copyMemory(from: source)
        }
        offset += count
    }
}
