import NIOCore

/// Every phase of a framed, authenticated connection, as a state machine: a challenge held back
/// for a penalized peer, the mutual HMAC handshake, the authenticated session, and failure.
/// Events go in, an ``Action`` comes out for ``AuthenticatedFramingHandler`` to carry out; it
/// never touches a socket or a timer, so tests drive every phase with bytes.
///
/// ```
/// idle ──active──▶ delayingChallenge ──delay elapsed──┐
///   └────active (no delay)──────────────────────────▶ handshaking ──verified──▶ authenticated
///                 bytes too early, bad frame, timeout, wrong key, close ──▶ failed
/// ```
public struct ConnectionStateMachine: Sendable {
    /// What the handler does next.
    public enum Action: Equatable, Sendable {
        case none
        /// Hold the challenge back this long, then call ``challengeDelayElapsed()``.
        case delayChallenge(TimeAmount)
        /// Start the handshake timer (``timedOut()`` when it fires), then write and flush `send`
        /// if there is one (the server's challenge).
        case beginHandshake(send: [UInt8]?)
        /// Write and flush this handshake frame.
        case send([UInt8])
        /// The peer is authenticated: stop the timer, write `send` if there is one, then the
        /// writes held back, flush, and tell the pipeline (``HandshakeCompleted``).
        case succeed(send: [UInt8]?)
        /// Pass this frame's payload up to the session.
        case deliver(ByteBuffer)
        /// Tell the pipeline `error` and fail the writes held back. Write `send` first if there
        /// is one. `close`: close the connection once that is flushed (during the handshake);
        /// otherwise the session above closes it after telling the peer why.
        case fail(WireError, send: [UInt8]?, close: Bool)
    }

    /// What to do with a frame the session writes.
    public enum WriteDecision: Equatable, Sendable {
        /// Write it now.
        case write
        /// Hold it until the handshake succeeds.
        case hold
        /// Fail it: the connection failed.
        case refuse
    }

    private enum State: Sendable {
        case idle
        case delayingChallenge
        case handshaking
        case authenticated
        /// Input is dropped; after the handshake the session may still write (its goodbye).
        case failed(afterHandshake: Bool)
    }

    /// Python reads handshake messages with `recv_bytes(256)`; so do we.
    public static let handshakeFrameLimit = 256

    private var state = State.idle
    private var handshake: HandshakeStateMachine
    private let sessionFrameLimit: Int

    /// - Parameter sessionFrameLimit: the largest frame accepted once the peer is authenticated.
    public init(handshake: HandshakeStateMachine, sessionFrameLimit: Int) {
        self.handshake = handshake
        self.sessionFrameLimit = sessionFrameLimit
    }

    /// The largest frame the decoder may accept now: 256 bytes until the peer is authenticated.
    public var maximumFrameLength: Int {
        if case .authenticated = state { return sessionFrameLimit }
        return Self.handshakeFrameLimit
    }

    /// Whether the peer is authenticated.
    public var isAuthenticated: Bool {
        if case .authenticated = state { return true }
        return false
    }

    /// Whether the connection failed (its further input is dropped).
    public var hasFailed: Bool {
        if case .failed = state { return true }
        return false
    }

    // MARK: Events

    /// The connection is up; `challengeDelay` holds the handshake back (for a peer address that
    /// keeps failing it).
    public mutating func channelActive(challengeDelay: TimeAmount = .zero) -> Action {
        guard case .idle = state else { return .none }
        guard challengeDelay <= .zero else {
            state = .delayingChallenge
            return .delayChallenge(challengeDelay)
        }
        return begin()
    }

    /// The challenge delay has passed.
    public mutating func challengeDelayElapsed() -> Action {
        guard case .delayingChallenge = state else { return .none }
        return begin()
    }

    private mutating func begin() -> Action {
        state = .handshaking
        switch handshake.start() {
        case .send(let bytes): return .beginHandshake(send: bytes)
        default: return .beginHandshake(send: nil)
        }
    }

    /// Bytes arrived, before they are split into frames.
    public mutating func bytesReceived() -> Action {
        guard case .delayingChallenge = state else { return .none }
        // The peer talks before it was even challenged: not a legitimate client.
        return fail(WireError(.handshakeViolation, "the peer sent data before the handshake began"))
    }

    /// A whole frame arrived.
    public mutating func frameReceived(_ frame: ByteBuffer) -> Action {
        switch state {
        case .authenticated:
            return .deliver(frame)
        case .handshaking:
            return handshakeAction(handshake.frameReceived(Array(frame.readableBytesView)))
        case .idle, .delayingChallenge:
            return fail(WireError(.handshakeViolation, "the peer sent data before the handshake began"))
        case .failed:
            return .none
        }
    }

    /// The byte stream could not be split into frames (an oversized or invalid length).
    public mutating func decodingFailed(_ error: WireError) -> Action {
        fail(error)
    }

    /// The handshake timer fired.
    public mutating func timedOut() -> Action {
        guard case .handshaking = state else { return .none }
        return handshakeAction(handshake.timedOut())
    }

    /// The connection closed.
    public mutating func channelInactive() -> Action {
        switch state {
        case .handshaking, .delayingChallenge:
            return handshakeAction(handshake.closed())
        case .idle, .authenticated, .failed:
            state = .failed(afterHandshake: false)
            return .none
        }
    }

    /// The session writes a frame.
    public func writeRequested() -> WriteDecision {
        switch state {
        case .authenticated, .failed(afterHandshake: true): return .write
        case .failed(afterHandshake: false): return .refuse
        case .idle, .delayingChallenge, .handshaking: return .hold
        }
    }

    // MARK: Handshake

    private mutating func handshakeAction(_ action: HandshakeStateMachine.Action) -> Action {
        switch action {
        case .none:
            return .none
        case .send(let bytes):
            return .send(bytes)
        case .sendAndSucceed(let bytes):
            state = .authenticated
            return .succeed(send: bytes)
        case .succeed:
            state = .authenticated
            return .succeed(send: nil)
        case .sendAndFail(let bytes, let error):
            return fail(error, send: bytes)
        case .fail(let error):
            return fail(error)
        }
    }

    private mutating func fail(_ error: WireError, send: [UInt8]? = nil) -> Action {
        let wasAuthenticated = isAuthenticated
        guard !hasFailed else { return .none }
        state = .failed(afterHandshake: wasAuthenticated)
        return .fail(error, send: send, close: !wasAuthenticated)
    }
}
