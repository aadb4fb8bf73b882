import NIOCore
import Testing

@testable import TaskWire

@Suite struct FrameDecoderTests {
    private func decodeAll(_ bytes: [UInt8], limit: Int = 1024) throws(WireError) -> ([[UInt8]], Int) {
        let decoder = FrameDecoder(maximumFrameLength: limit)
        var buffer = ByteBuffer(bytes: bytes)
        var frames: [[UInt8]] = []
        while let frame = try decoder.decodeFrame(from: &buffer) {
            frames.append(Array(frame.readableBytesView))
        }
        return (frames, buffer.readableBytes)
    }

    @Test func decodesConsecutiveFrames() throws {
        let (frames, left) = try decodeAll([0, 0, 0, 2, 0xAA, 0xBB, 0, 0, 0, 0, 0, 0, 0, 1, 0xCC, 0, 0])
        #expect(frames == [[0xAA, 0xBB], [], [0xCC]])
        #expect(left == 2)  // half a header stays buffered
    }

    @Test func waitsForTheWholePayloadAndConsumesNothingMeanwhile() throws {
        let decoder = FrameDecoder(maximumFrameLength: 100)
        var buffer = ByteBuffer(bytes: [0, 0, 0, 5, 1, 2, 3])
        #expect(try decoder.decodeFrame(from: &buffer) == nil)
        #expect(buffer.readableBytes == 7)
        buffer.writeBytes([4, 5])
        #expect(try decoder.decodeFrame(from: &buffer).map { Array($0.readableBytesView) } == [1, 2, 3, 4, 5])
        #expect(buffer.readableBytes == 0)
    }

    @Test func refusesAnOversizedFrameAsSoonAsTheHeaderIsRead() {
        let decoder = FrameDecoder(maximumFrameLength: 16)
        // Only the header of a 17-byte frame: refused without waiting for any payload.
        var buffer = ByteBuffer(bytes: [0, 0, 0, 17])
        #expect(throws: WireError.self) { try decoder.decodeFrame(from: &buffer) }
        do {
            _ = try decoder.decodeFrame(from: &buffer)
        } catch {
            #expect(error.code == .frameTooLarge)
            #expect(error.message.contains("17"))
        }
    }

    @Test func acceptsAFrameOfExactlyTheLimit() throws {
        let (frames, _) = try decodeAll([0, 0, 0, 3, 7, 8, 9], limit: 3)
        #expect(frames == [[7, 8, 9]])
    }

    @Test func refusesATwoGigabyteAnnouncementWithoutAllocating() {
        let decoder = FrameDecoder(maximumFrameLength: 16 << 20)
        var buffer = ByteBuffer(bytes: [0x7F, 0xFF, 0xFF, 0xFF])
        #expect(
            performing: { try decoder.decodeFrame(from: &buffer) },
            throws: { ($0 as? WireError)?.code == .frameTooLarge }
        )
    }

    @Test func readsPythonsLongForm() throws {
        // -1, then a 64-bit length: what Python sends for payloads over 2 GiB, valid for any size.
        let (frames, _) = try decodeAll([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 2, 0x41, 0x42])
        #expect(frames == [[0x41, 0x42]])
    }

    @Test func refusesAnOversizedLongForm() {
        let decoder = FrameDecoder(maximumFrameLength: 1 << 20)
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0])
        #expect(
            performing: { try decoder.decodeFrame(from: &buffer) },
            throws: { ($0 as? WireError)?.code == .frameTooLarge }
        )
    }

    @Test func waitsForTheRestOfALongHeader() throws {
        let decoder = FrameDecoder(maximumFrameLength: 100)
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0, 0])
        #expect(try decoder.decodeFrame(from: &buffer) == nil)
        #expect(buffer.readableBytes == 6)
    }

    @Test(arguments: [Int32(-2), Int32.min, Int32(-100)])
    func refusesNegativeLengths(length: Int32) {
        let decoder = FrameDecoder(maximumFrameLength: 100)
        var buffer = ByteBuffer()
        buffer.writeInteger(length)
        #expect(
            performing: { try decoder.decodeFrame(from: &buffer) },
            throws: { ($0 as? WireError)?.code == .invalidFrameLength }
        )
    }

    @Test func encoderWritesWhatTheDecoderReads() throws {
        let payload = Array(repeating: UInt8(0x5A), count: 300)
        var buffer = FrameEncoder.frame(payload)
        #expect(Array(buffer.readableBytesView.prefix(4)) == [0, 0, 1, 0x2C])
        let frame = try FrameDecoder(maximumFrameLength: 300).decodeFrame(from: &buffer)
        #expect(frame.map { Array($0.readableBytesView) } == payload)
    }

    @Test func encoderUsesTheLongFormPastTwoGigabytes() {
        var header = ByteBuffer()
        FrameEncoder.writeHeader(length: Int(Int32.max) + 1, into: &header)
        #expect(Array(header.readableBytesView) == [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0x80, 0, 0, 0])
    }

    @Test func garbageNeverTraps() {
        // Seeded random byte streams: each decode either yields frames, waits, or throws.
        var generator = SplitMix64(seed: 42)
        for _ in 0..<2000 {
            let count = Int(generator.next() % 40)
            let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if let (frames, left) = try? decodeAll(bytes, limit: 32) {
                // Whatever was decoded accounts for the input exactly: headers, payloads, the rest.
                #expect(frames.reduce(0) { $0 + $1.count + 4 } + left <= bytes.count)
                #expect(frames.allSatisfy { $0.count <= 32 })
            }
        }
    }
}

/// A tiny deterministic generator, so fuzz-style loops are repeatable.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
