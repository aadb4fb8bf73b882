import FuzzSupport
import NIOCore
import TaskWire

// Fuzzes TaskWire's `FrameDecoder` (docs/PROTOCOL.md §1) on a byte stream fed in pieces.
//
// Input: 4 control bytes, then the stream.
//   byte 0, byte 1 bits 0–1  the maximum frame length, 0…1023 ("a small maximum")
//   byte 1 bit 2             feed the stream one byte at a time (else in two reads)
//   byte 1 bit 3             discard read bytes after each frame, as NIO's decoders compact
//   byte 1 bit 4             raise the maximum to 1 MiB after the first frame (the handshake's
//                            256 bytes, then max_frame_bytes)
//   bytes 2–3                where the two reads split the stream (modulo its length + 1)
//
// Checks, besides never trapping or hanging:
// - `decodeFrame` returning nil consumes nothing (reader index and readable bytes unchanged);
// - no frame is longer than the maximum in force when it was decoded;
// - the frames and the final outcome (the error code, or how many bytes are left over) are the
//   same whether the stream arrives at once, in two reads or byte by byte, and the same as an
//   independent reading of the framing rules (`specDecode` below).

/// How the decoder is set up, from the control bytes.
private struct Setup {
    var maximum: Int
    var byteByByte: Bool
    var discardReadBytes: Bool
    var raiseAfterFirstFrame: Bool

    static let raisedMaximum = 1 << 20

    func maximum(afterFrames count: Int) -> Int {
        raiseAfterFirstFrame && count > 0 ? Self.raisedMaximum : maximum
    }
}

/// How decoding a stream ended.
private enum Outcome: Hashable, CustomStringConvertible {
    /// No error; this many bytes were left, not enough for the next frame.
    case incomplete(leftover: Int)
    /// The decoder threw.
    case failed(WireError.Code)

    var description: String {
        switch self {
        case .incomplete(let leftover): return "incomplete, \(leftover) bytes left"
        case .failed(let code): return "failed: \(code)"
        }
    }
}

private struct Decoded: Hashable {
    var frames: [[UInt8]]
    var outcome: Outcome
}

/// The framing rules read straight from docs/PROTOCOL.md §1, written independently of the decoder.
private func specDecode(_ stream: [UInt8], _ setup: Setup) -> Decoded {
    func bigEndian(_ offset: Int, _ width: Int) -> UInt64 {
        stream[offset..<(offset + width)].reduce(0) { $0 << 8 | UInt64($1) }
    }
    var frames: [[UInt8]] = []
    var offset = 0
    while true {
        let available = stream.count - offset
        guard available >= 4 else { return Decoded(frames: frames, outcome: .incomplete(leftover: available)) }
        let short = Int32(bitPattern: UInt32(bigEndian(offset, 4)))
        var header = 4
        let length: UInt64
        if short >= 0 {
            length = UInt64(short)
        } else if short == -1 {
            guard available >= 12 else { return Decoded(frames: frames, outcome: .incomplete(leftover: available)) }
            header = 12
            length = bigEndian(offset + 4, 8)
        } else {
            return Decoded(frames: frames, outcome: .failed(.invalidFrameLength))
        }
        guard length <= UInt64(setup.maximum(afterFrames: frames.count)) else {
            return Decoded(frames: frames, outcome: .failed(.frameTooLarge))
        }
        guard UInt64(available - header) >= length else {
            return Decoded(frames: frames, outcome: .incomplete(leftover: available))
        }
        let start = offset + header
        frames.append(Array(stream[start..<(start + Int(length))]))
        offset = start + Int(length)
    }
}

/// Runs `FrameDecoder` over the stream arriving in `reads`, checking each call.
private func decode(_ reads: [ArraySlice<UInt8>], _ setup: Setup) -> Decoded {
    var decoder = FrameDecoder(maximumFrameLength: setup.maximum)
    var buffer = ByteBuffer()
    var frames: [[UInt8]] = []
    for read in reads {
        buffer.writeBytes(read)
        while true {
            let readerIndex = buffer.readerIndex
            let readable = buffer.readableBytes
            let frame: ByteBuffer?
            do {
                frame = try decoder.decodeFrame(from: &buffer)
            } catch {
                return Decoded(frames: frames, outcome: .failed(error.code))
            }
            guard let frame else {
                require(
                    buffer.readerIndex == readerIndex && buffer.readableBytes == readable,
                    "decodeFrame returned nil but consumed bytes"
                )
                break
            }
            require(
                frame.readableBytes <= decoder.maximumFrameLength,
                "a frame of \(frame.readableBytes) bytes passed the maximum of \(decoder.maximumFrameLength)"
            )
            frames.append(Array(frame.readableBytesView))
            decoder.maximumFrameLength = setup.maximum(afterFrames: frames.count)
            if setup.discardReadBytes { buffer.discardReadBytes() }
        }
    }
    return Decoded(frames: frames, outcome: .incomplete(leftover: buffer.readableBytes))
}

private func fuzzOne(_ bytes: [UInt8]) {
    var input = FuzzInput(bytes)
    let low = input.byte()
    let flags = input.byte()
    let setup = Setup(
        maximum: Int(low) | Int(flags & 0x03) << 8,
        byteByByte: flags & 0x04 != 0,
        discardReadBytes: flags & 0x08 != 0,
        raiseAfterFirstFrame: flags & 0x10 != 0
    )
    let splitSeed = Int(input.uint16())
    let stream = Array(input.rest)

    let expected = specDecode(stream, setup)
    let atOnce = decode([stream[...]], setup)
    let pieces: [ArraySlice<UInt8>]
    if setup.byteByByte {
        pieces = stream.indices.map { stream[$0...$0] }
    } else {
        let split = splitSeed % (stream.count + 1)
        pieces = [stream[..<split], stream[split...]]
    }
    let inPieces = decode(pieces, setup)
    trace("\(setup) → \(atOnce.frames.count) frames, \(atOnce.outcome)")
    require(atOnce == expected, "at once: \(atOnce) but the framing rules give \(expected)")
    require(inPieces == expected, "in \(pieces.count) reads: \(inPieces) but the framing rules give \(expected)")
}

/// libFuzzer's entry point: one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(inputBytes(data, size))
    return 0
}

/// The process entry point under SwiftPM (see `runLibFuzzer`).
@_cdecl("FuzzFrameDecoder_main")
public func fuzzFrameDecoderMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc: argc, argv: argv, fuzzFrameDecoder)
}
