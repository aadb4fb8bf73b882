import Crypto

/// The mutual challenge–response handshake of `multiprocessing.connection`, as a state machine.
///
/// ```
/// server → client  #CHALLENGE#{sha256}<40 random bytes>
/// client → server  {sha256}<HMAC-SHA256(key, challenge)>
/// server → client  #WELCOME# | #FAILURE#
/// client → server  #CHALLENGE#{sha256}<40 random bytes>
/// server → client  {sha256}<HMAC-SHA256(key, challenge)>
/// client → server  #WELCOME# | #FAILURE#
/// ```
///
/// Events go in (``start()``, ``frameReceived(_:)``, ``timedOut()``, ``closed()``) and an
/// ``Action`` comes out for the channel handler to carry out. It never touches a socket.
public struct HandshakeStateMachine: Sendable {
    /// Which side of the connection this machine plays.
    public enum Role: Sendable, Hashable {
        /// The listening side: challenges first.
        case server
        /// The connecting side: answers first.
        case client
    }

    /// What the channel handler must do next.
    public enum Action: Hashable, Sendable {
        /// Nothing to do until the next event.
        case none
        /// Write this frame payload.
        case send([UInt8])
        /// Write this frame payload; the peer is then authenticated.
        case sendAndSucceed([UInt8])
        /// The peer is authenticated.
        case succeed
        /// Write this frame payload (a `#FAILURE#`), then close with the error.
        case sendAndFail([UInt8], WireError)
        /// Close with the error.
        case fail(WireError)
    }

    private enum State: Sendable {
        case idle
        /// Our challenge is out, waiting for the peer's answer.
        case awaitingAnswer(challenge: [UInt8])
        /// Server: we welcomed the peer, waiting for its challenge to us.
        /// Client: waiting for the server's challenge.
        case awaitingChallenge
        /// Either role: we answered a challenge, waiting for `#WELCOME#`/`#FAILURE#`.
        case awaitingVerdict
        case succeeded
        case failed
    }

    private var state: State = .idle
    private let role: Role
    private let key: AuthKey
    private let nonce: [UInt8]
    private let acceptsLegacyDigests: Bool

    /// - Parameters:
    ///   - nonce: the random bytes of this side's challenge; use ``randomNonce()``.
    ///   - acceptsLegacyDigests: accept and give raw HMAC-MD5 answers, which Python 3.11 and
    ///     older need.
    public init(role: Role, key: AuthKey, nonce: [UInt8], acceptsLegacyDigests: Bool = true) {
        self.role = role
        self.key = key
        self.nonce = nonce
        self.acceptsLegacyDigests = acceptsLegacyDigests
    }

    /// 40 bytes from a cryptographically secure generator, as Python 3.12+ sends.
    public static func randomNonce() -> [UInt8] {
        SymmetricKey(size: SymmetricKeySize(bitCount: 320)).withUnsafeBytes { Array($0) }
    }

    /// Whether the handshake has ended, one way or the other.
    public var isFinished: Bool {
        switch state {
        case .succeeded, .failed: return true
        default: return false
        }
    }

    /// The connection is up. The server sends its challenge; the client waits for one.
    public mutating func start() -> Action {
        guard case .idle = state else { return .none }
        switch role {
        case .server:
            let (frame, message) = ChallengeResponse.challenge(nonce: nonce)
            state = .awaitingAnswer(challenge: message)
            return .send(frame)
        case .client:
            state = .awaitingChallenge
            return .none
        }
    }

    /// A frame arrived from the peer.
    public mutating func frameReceived(_ frame: [UInt8]) -> Action {
        switch (role, state) {
        case (.server, .awaitingAnswer(let challenge)):
            guard
                ChallengeResponse.verify(
                    answer: frame,
                    to: challenge,
                    key: key,
                    acceptsLegacyDigests: acceptsLegacyDigests
                )
            else {
                state = .failed
                return .sendAndFail(
                    ChallengeResponse.failure,
                    WireError(
                        .authenticationFailed,
                        "authentication failed: the client's answer does not match this master's authkey"
                    )
                )
            }
            state = .awaitingChallenge
            return .send(ChallengeResponse.welcome)

        case (.server, .awaitingChallenge), (.client, .awaitingChallenge):
            guard frame.starts(with: ChallengeResponse.challengeTag) else {
                return fail(.handshakeViolation, "expected a #CHALLENGE# message from the peer")
            }
            let message = Array(frame.dropFirst(ChallengeResponse.challengeTag.count))
            do {
                let answer = try ChallengeResponse.answer(
                    to: message,
                    key: key,
                    acceptsLegacyDigests: acceptsLegacyDigests
                )
                state = .awaitingVerdict
                return .send(answer)
            } catch {
                state = .failed
                return .fail(error)
            }

        case (.server, .awaitingVerdict):
            if frame == ChallengeResponse.welcome {
                state = .succeeded
                return .succeed
            }
            if frame == ChallengeResponse.failure {
                return fail(
                    .peerAuthenticationFailed,
                    "authentication failed: the client rejected this master's answer (authkey mismatch)"
                )
            }
            return fail(.handshakeViolation, "expected #WELCOME# or #FAILURE# from the client")

        case (.client, .awaitingVerdict):
            if frame == ChallengeResponse.welcome {
                let (challengeFrame, message) = ChallengeResponse.challenge(nonce: nonce)
                state = .awaitingAnswer(challenge: message)
                return .send(challengeFrame)
            }
            if frame == ChallengeResponse.failure {
                return fail(
                    .peerAuthenticationFailed,
                    "authentication failed: the authkey does not match the master's"
                )
            }
            return fail(.handshakeViolation, "expected #WELCOME# or #FAILURE# from the master")

        case (.client, .awaitingAnswer(let challenge)):
            guard
                ChallengeResponse.verify(
                    answer: frame,
                    to: challenge,
                    key: key,
                    acceptsLegacyDigests: acceptsLegacyDigests
                )
            else {
                state = .failed
                return .sendAndFail(
                    ChallengeResponse.failure,
                    WireError(
                        .authenticationFailed,
                        "authentication failed: the master's answer to our challenge is wrong;"
                            + " it does not hold the same authkey"
                    )
                )
            }
            state = .succeeded
            return .sendAndSucceed(ChallengeResponse.welcome)

        case (_, .succeeded):
            // Frames after the handshake belong to the session, not to us.
            return .none

        case (_, .failed):
            return .none

        default:
            return fail(.handshakeViolation, "unexpected message during the handshake")
        }
    }

    /// The handshake timer fired.
    public mutating func timedOut() -> Action {
        guard !isFinished else { return .none }
        return fail(.handshakeTimeout, "the handshake did not finish in time; closing the connection")
    }

    /// The connection closed.
    public mutating func closed() -> Action {
        guard !isFinished else { return .none }
        switch (role, state) {
        case (.client, .awaitingVerdict), (.client, .awaitingChallenge):
            return fail(
                .connectionClosed,
                "the master closed the connection during the handshake (is this a TaskMaster or Python manager port?)"
            )
        default:
            return fail(.connectionClosed, "the peer closed the connection during the handshake")
        }
    }

    private mutating func fail(_ code: WireError.Code, _ message: String) -> Action {
        state = .failed
        return .fail(WireError(code, message))
    }
}
