import NIOCore

// Checked reads for the message codec: every read either succeeds or throws a
// `malformedMessage` error naming the field, so a truncated frame can never trap.
extension ByteBuffer {
    mutating func readWire<T: FixedWidthInteger>(_: T.Type, _ field: StaticString) throws(WireError) -> T {
        guard let value = readInteger(as: T.self) else {
            throw .malformed("truncated before \(field)")
        }
        return value
    }

    mutating func readWireString(_ field: StaticString) throws(WireError) -> String {
        let length = try readWire(UInt16.self, field)
        guard let bytes = readSlice(length: Int(length)) else {
            throw .malformed("truncated inside \(field)")
        }
        guard let string = bytes.getString(at: bytes.readerIndex, length: bytes.readableBytes),
            string.utf8.elementsEqual(bytes.readableBytesView)
        else {
            throw .malformed("\(field) is not valid UTF-8")
        }
        return string
    }

    mutating func writeWireString(_ string: String) {
        let length = UInt16(clamping: string.utf8.count)
        writeInteger(length)
        writeBytes(string.utf8.prefix(Int(length)))
    }

    /// A length-prefixed byte string, as a slice of this buffer (no copy).
    mutating func readWireSlice(_ field: StaticString) throws(WireError) -> ByteBuffer {
        let length = try readWire(UInt32.self, field)
        guard let bytes = readSlice(length: Int(length)) else {
            throw .malformed("truncated inside \(field)")
        }
        return bytes
    }

    /// A count of elements, each taking at least `minimumSize` bytes: a count the remaining
    /// bytes can't hold is refused before anything is reserved for it.
    mutating func readWireCount(_ field: StaticString, minimumSize: Int) throws(WireError) -> Int {
        let count = Int(try readWire(UInt32.self, field))
        guard count <= readableBytes / Swift.max(minimumSize, 1) else {
            throw .malformed("\(field) announces \(count) entries but only \(readableBytes) bytes follow")
        }
        return count
    }

    mutating func readWireIDs(_ field: StaticString) throws(WireError) -> [TaskID] {
        let count = try readWireCount(field, minimumSize: 8)
        // In one pass over the bytes: a read per id costs a bounds and uniqueness check each.
        let ids = withUnsafeReadableBytes { bytes in
            [TaskID](unsafeUninitializedCapacity: count) { ids, initialized in
                for index in 0..<count {
                    ids[index] = TaskID(bigEndian: bytes.loadUnaligned(fromByteOffset: 8 * index, as: TaskID.self))
                }
                initialized = count
            }
        }
        moveReaderIndex(forwardBy: 8 * count)
        return ids
    }

    mutating func writeWireIDs(_ ids: [TaskID]) {
        writeInteger(UInt32(ids.count))
        // In one pass: a write per id costs a bounds and uniqueness check each.
        writeWithUnsafeMutableBytes(minimumWritableBytes: 8 * ids.count) { bytes in
            for (index, id) in ids.enumerated() {
                bytes.storeBytes(of: id.bigEndian, toByteOffset: 8 * index, as: TaskID.self)
            }
            return 8 * ids.count
        }
    }

    mutating func readWireItems(_ field: StaticString) throws(WireError) -> [NewItem] {
        let count = try readWireCount(field, minimumSize: 12)
        // The items' places found in one pass over the bytes, then each payload sliced off: a
        // read per field costs a bounds and uniqueness check each.
        var places: [(reference: TaskID, start: Int, length: Int)] = []
        places.reserveCapacity(count)
        let end = withUnsafeReadableBytes { bytes -> Int? in
            var offset = 0
            for _ in 0..<count {
                guard offset + 12 <= bytes.count else { return nil }
                let reference = TaskID(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: TaskID.self))
                let length = Int(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)))
                guard length <= bytes.count - offset - 12 else { return nil }
                places.append((reference, offset + 12, length))
                offset += 12 + length
            }
            return offset
        }
        guard let end else { throw .malformed("truncated inside \(field)") }
        let items = places.map { place in
            NewItem(payload: getSlice(at: readerIndex + place.start, length: place.length)!, reference: place.reference)
        }
        moveReaderIndex(forwardBy: end)
        return items
    }

    mutating func writeWireItems(_ items: [NewItem]) {
        writeInteger(UInt32(items.count))
        let size = items.reduce(0) { $0 + 12 + $1.payload.readableBytes }
        RecordWriter.write(size, into: &self) { writer in
            for item in items {
                writer.integer(item.reference)
                writer.integer(UInt32(item.payload.readableBytes))
                writer.payload(item.payload)
            }
        }
    }

    func ensureFullyRead(_ what: StaticString) throws(WireError) {
        guard readableBytes == 0 else {
            throw .malformed("\(readableBytes) unexpected bytes after the end of \(what)")
        }
    }
}
