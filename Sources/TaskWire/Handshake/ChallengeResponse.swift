/// The rules for answering and checking challenges, as Python 3.12+ applies them.
///
/// A challenge message `M` is what follows `#CHALLENGE#`. The HMAC always covers the whole `M`,
/// its `{digest}` prefix included. See docs/PROTOCOL.md, "Handshake".
public enum ChallengeResponse {
    /// `#CHALLENGE#`
    public static let challengeTag: [UInt8] = Array("#CHALLENGE#".utf8)
    /// `#WELCOME#`
    public static let welcome: [UInt8] = Array("#WELCOME#".utf8)
    /// `#FAILURE#`
    public static let failure: [UInt8] = Array("#FAILURE#".utf8)
    /// The digest this side offers in its own challenges.
    public static let offeredDigest = ChallengeDigest.sha256

    /// The challenge frame `#CHALLENGE#{sha256}` + nonce.
    public static func challenge(nonce: [UInt8]) -> (frame: [UInt8], message: [UInt8]) {
        let message = offeredDigest.prefix + nonce
        return (challengeTag + message, message)
    }

    /// The answer to a challenge message: raw HMAC-MD5 for Python's legacy 16/20-byte
    /// challenges, `{name}` + HMAC-name for prefixed ones.
    public static func answer(
        to message: [UInt8],
        key: AuthKey,
        acceptsLegacyDigests: Bool
    ) throws(WireError) -> [UInt8] {
        guard message.count >= 20 else {
            throw WireError(.handshakeViolation, "the peer's challenge is too short (\(message.count) bytes)")
        }
        if message.count == 20 {
            guard acceptsLegacyDigests else {
                throw WireError(
                    .handshakeViolation,
                    "the peer asked for a legacy HMAC-MD5 answer (a Python 3.11 or older master);"
                        + " allow legacy digests to talk to it"
                )
            }
            return ChallengeDigest.md5.mac(of: message, key: key)
        }
        guard let (digest, _) = ChallengeDigest.parsePrefix(message),
            acceptsLegacyDigests || !digest.isLegacy
        else {
            throw WireError(.handshakeViolation, "the peer's challenge names no digest this side supports")
        }
        return digest.prefix + digest.mac(of: message, key: key)
    }

    /// Whether `answer` proves the peer holds `key`, for the challenge `message` we sent.
    public static func verify(
        answer: [UInt8],
        to message: [UInt8],
        key: AuthKey,
        acceptsLegacyDigests: Bool
    ) -> Bool {
        if answer.count == 16 || answer.count == 20 {
            // Python 3.11 and older answer with the bare HMAC-MD5 whatever the challenge says.
            return acceptsLegacyDigests && ChallengeDigest.md5.isValid(answer, for: message, key: key)
        }
        guard let (digest, code) = ChallengeDigest.parsePrefix(answer),
            acceptsLegacyDigests || !digest.isLegacy
        else { return false }
        return digest.isValid(Array(code), for: message, key: key)
    }
}
