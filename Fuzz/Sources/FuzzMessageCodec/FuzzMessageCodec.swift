import FuzzSupport
import NIOCore
import TaskWire

// Fuzzes TaskWire's native message codec (docs/PROTOCOL.md §4): the input is one frame payload,
// read as a request (`Request(decoding:)`), a response (`Response(decoding:)`) and a hello
// (`Hello(decoding:)`).
//
// Checks, besides never trapping or hanging (a thrown `WireError` is fine):
// - whatever decodes, encodes, and the encoding decodes to an equal value (what the master
//   sends back is what the client reads);
// - decoding does not depend on where the payload sits in its buffer: the same bytes behind a
//   reader index of 3 decode to the same value or the same error, and `Request.peekID` finds
//   the same id.

/// The payload as a buffer whose reader index is not 0.
private func shifted(_ bytes: [UInt8]) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeBytes([0xA5, 0x5A, 0xA5])
    buffer.writeBytes(bytes)
    buffer.moveReaderIndex(forwardBy: 3)
    return buffer
}

/// Decodes `buffer` and its shifted twin, checks they agree, and round-trips a success.
private func check<Message: Hashable>(
    _ what: String,
    _ bytes: [UInt8],
    decode: (ByteBuffer) throws(WireError) -> Message,
    encode: (Message, inout ByteBuffer) -> Void
) {
    let plain = Result { () throws(WireError) in try decode(ByteBuffer(bytes: bytes)) }
    let moved = Result { () throws(WireError) in try decode(shifted(bytes)) }
    require(plain == moved, "\(what): \(plain) at reader index 0 but \(moved) at reader index 3")
    guard case .success(let message) = plain else {
        if case .failure(let error) = plain { trace("\(what): \(error.code): \(error.message)") }
        return
    }
    trace("\(what): \(message)")
    var encoded = ByteBuffer()
    encode(message, &encoded)
    let again = Result { () throws(WireError) in try decode(encoded) }
    require(
        again == .success(message),
        "\(what): \(message) encodes as \(hex(encoded.readableBytesView)), which decodes as \(again)"
    )
}

private func fuzzOne(_ bytes: [UInt8]) {
    check(
        "request",
        bytes,
        decode: { (buffer) throws(WireError) in try Request(decoding: buffer) },
        encode: { $0.encode(into: &$1) }
    )
    check(
        "response",
        bytes,
        decode: { (buffer) throws(WireError) in try Response(decoding: buffer) },
        encode: { $0.encode(into: &$1) }
    )
    check(
        "hello",
        bytes,
        decode: { (buffer) throws(WireError) in try Hello(decoding: buffer) },
        encode: { $0.encode(into: &$1) }
    )
    let id = Request.peekID(ByteBuffer(bytes: bytes))
    require(id == Request.peekID(shifted(bytes)), "peekID depends on the reader index")
}

/// libFuzzer's entry point: one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMessageCodec(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(inputBytes(data, size))
    return 0
}

/// The process entry point under SwiftPM (see `runLibFuzzer`).
@_cdecl("FuzzMessageCodec_main")
public func fuzzMessageCodecMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc: argc, argv: argv, fuzzMessageCodec)
}
