import Crypto

/// The shared secret both sides of a connection prove they hold.
///
/// The key never crosses the wire: the handshake only exchanges random challenges and HMACs
/// of them. Its description is redacted so that logging a configuration can't leak it.
public struct AuthKey: Sendable, CustomStringConvertible {
    let symmetricKey: SymmetricKey

    /// A key made of these bytes. An empty key is allowed by Python but refused here:
    /// it would authenticate anyone.
    public init?(bytes: some Collection<UInt8>) {
        guard !bytes.isEmpty else { return nil }
        self.symmetricKey = SymmetricKey(data: Array(bytes))
    }

    public var description: String { "AuthKey(<redacted>)" }
}
