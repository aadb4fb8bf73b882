import Crypto

/// A digest a challenge answer may use, named as in Python's `multiprocessing.connection`.
///
/// An answer is `{name}` followed by HMAC-name(key, challenge), or — Python 3.11 and older —
/// the raw 16-byte HMAC-MD5 with no prefix.
public enum ChallengeDigest: String, CaseIterable, Sendable {
    case md5
    case sha256
    case sha384
    case sha3_256
    case sha3_384

    /// Whether this digest is only accepted for compatibility with older Python peers.
    public var isLegacy: Bool { self == .md5 }

    /// `{name}` as bytes.
    public var prefix: [UInt8] { Array("{\(rawValue)}".utf8) }

    /// HMAC of `message` under `key` with this digest.
    public func mac(of message: [UInt8], key: AuthKey) -> [UInt8] {
        let key = key.symmetricKey
        switch self {
        case .md5: return Array(HMAC<Insecure.MD5>.authenticationCode(for: message, using: key))
        case .sha256: return Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
        case .sha384: return Array(HMAC<SHA384>.authenticationCode(for: message, using: key))
        case .sha3_256: return Array(HMAC<SHA3_256>.authenticationCode(for: message, using: key))
        case .sha3_384: return Array(HMAC<SHA3_384>.authenticationCode(for: message, using: key))
        }
    }

    /// Checks `code` against HMAC(`key`, `message`) in constant time.
    public func isValid(_ code: [UInt8], for message: [UInt8], key: AuthKey) -> Bool {
        let key = key.symmetricKey
        switch self {
        case .md5:
            return HMAC<Insecure.MD5>.isValidAuthenticationCode(code, authenticating: message, using: key)
        case .sha256:
            return HMAC<SHA256>.isValidAuthenticationCode(code, authenticating: message, using: key)
        case .sha384:
            return HMAC<SHA384>.isValidAuthenticationCode(code, authenticating: message, using: key)
        case .sha3_256:
            return HMAC<SHA3_256>.isValidAuthenticationCode(code, authenticating: message, using: key)
        case .sha3_384:
            return HMAC<SHA3_384>.isValidAuthenticationCode(code, authenticating: message, using: key)
        }
    }

    /// Splits `{name}rest` into the digest and `rest`, if `bytes` starts with a known prefix.
    static func parsePrefix(_ bytes: [UInt8]) -> (ChallengeDigest, ArraySlice<UInt8>)? {
        guard bytes.first == UInt8(ascii: "{"),
            let close = bytes.prefix(20).firstIndex(of: UInt8(ascii: "}"))
        else { return nil }
        guard let name = String(validating: bytes[1..<close], as: UTF8.self),
            let digest = ChallengeDigest(rawValue: name)
        else { return nil }
        return (digest, bytes[(close + 1)...])
    }
}
