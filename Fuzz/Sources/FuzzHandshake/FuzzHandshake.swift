import FuzzSupport
import NIOCore
import TaskWire

// Fuzzes TaskWire's `HandshakeStateMachine` (docs/PROTOCOL.md §2), either role, fed what the
// peer sends as a sequence of frames.
//
// Input:
//   byte 0     bit 0: role (0 server, 1 client); bit 1: accept legacy digests (MD5);
//              bit 2: end with the connection closing (else with the handshake timer firing)
//   bytes 1–40 this side's nonce (with a fixed nonce and key, a peer's valid answer is a fixed
//              string that seeds and mutations can carry, so the fuzzer gets past the HMAC checks)
//   the rest   the peer's frames in the wire framing, read with the handshake's 256-byte limit as
//              the connection does; a frame the decoder refuses ends the connection
// The key is `abc`, the key of the captured Python sessions in Tests/Fixtures/python-managers,
// so a server nonce and the client frames of a captured session replay that handshake.
//
// Checks, besides never trapping or hanging:
// - `start()` sends `#CHALLENGE#{sha256}` + nonce as the server and nothing as the client, once;
// - an action ends the handshake (`isFinished`) exactly when it is `succeed`, `sendAndSucceed`,
//   `fail` or `sendAndFail`; nothing un-finishes it, and every later event answers `.none`;
// - the timer firing or the connection closing fails an unfinished handshake.

private let key = AuthKey(bytes: Array("abc".utf8))!

extension HandshakeStateMachine.Action {
    /// Whether this action ends the handshake.
    fileprivate var ends: Bool {
        switch self {
        case .succeed, .sendAndSucceed, .fail, .sendAndFail: return true
        case .none, .send: return false
        }
    }

    fileprivate var isFailure: Bool {
        switch self {
        case .fail, .sendAndFail: return true
        default: return false
        }
    }
}

/// Checks what an event did: `action` came from a machine that was `wasFinished` before it.
private func checkStep(
    _ machine: HandshakeStateMachine,
    _ action: HandshakeStateMachine.Action,
    wasFinished: Bool,
    _ event: String
) {
    if wasFinished {
        require(action == .none, "\(event) after the end of the handshake gave \(action)")
        require(machine.isFinished, "\(event) un-finished the handshake")
    } else {
        require(
            machine.isFinished == action.ends,
            "\(event) gave \(action) but isFinished is \(machine.isFinished)"
        )
    }
}

private func fuzzOne(_ bytes: [UInt8]) {
    var input = FuzzInput(bytes)
    let flags = input.byte()
    let role: HandshakeStateMachine.Role = flags & 0x01 == 0 ? .server : .client
    let nonce = input.bytes(40)
    var machine = HandshakeStateMachine(
        role: role,
        key: key,
        nonce: nonce,
        acceptsLegacyDigests: flags & 0x02 != 0
    )

    let first = machine.start()
    switch role {
    case .server:
        require(first == .send(Array("#CHALLENGE#{sha256}".utf8) + nonce), "the server's start() gave \(first)")
    case .client:
        require(first == .none, "the client's start() gave \(first)")
    }
    require(!machine.isFinished, "start() finished the handshake")
    require(machine.start() == .none, "a second start() did something")
    trace("\(role) start: \(first)")

    var frames = ByteBuffer(bytes: Array(input.rest))
    let decoder = FrameDecoder(maximumFrameLength: 256)
    while let frame = try? decoder.decodeFrame(from: &frames) {
        let wasFinished = machine.isFinished
        let action = machine.frameReceived(Array(frame.readableBytesView))
        trace("\(role) got \(hex(frame.readableBytesView, limit: 24)): \(action)")
        checkStep(machine, action, wasFinished: wasFinished, "a frame")
    }

    let wasFinished = machine.isFinished
    let closes = flags & 0x04 != 0
    let end = closes ? machine.closed() : machine.timedOut()
    let event = closes ? "the connection closing" : "the timer firing"
    trace("\(role) \(event): \(end)")
    checkStep(machine, end, wasFinished: wasFinished, event)
    require(wasFinished || end.isFailure, "\(event) left an unfinished handshake with \(end)")
    require(machine.frameReceived(Array("#WELCOME#".utf8)) == .none, "a frame after the end did something")
}

/// libFuzzer's entry point: one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHandshake(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(inputBytes(data, size))
    return 0
}

/// The process entry point under SwiftPM (see `runLibFuzzer`).
@_cdecl("FuzzHandshake_main")
public func fuzzHandshakeMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc: argc, argv: argv, fuzzHandshake)
}
