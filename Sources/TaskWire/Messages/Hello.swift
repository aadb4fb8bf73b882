/// The first native message in each direction, right after the handshake.
///
/// It starts with the magic `TMQP`, which can't begin a pickle (those start with `0x80`),
/// so the master tells native clients from Python ones by the first frame.
public struct Hello: Hashable, Sendable {
    /// `TMQP`
    public static let magic: [UInt8] = Array("TMQP".utf8)
    /// The protocol version this build speaks.
    public static let currentVersion: UInt8 = 1

    /// The newest protocol version the sender speaks.
    public var version: UInt8
    /// Who is talking, for logs and stats, e.g. `task-worker 1234@host-b`.
    public var name: String

    public init(version: UInt8 = Hello.currentVersion, name: String) {
        self.version = version
        self.name = name
    }

    /// Whether a frame payload starts with the native magic.
    public static func isHello(_ frame: some Collection<UInt8>) -> Bool {
        frame.starts(with: magic)
    }
}
