/// An error of the TaskMaster wire protocol: framing, handshake or message codec.
///
/// Like `NIOSSHError` and `PSQLError`, the error is a struct with an extensible ``Code``
/// so new failure kinds can be added without breaking callers that switch on the code.
/// The ``message`` says what went wrong and, where it helps, what to do about it.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case frameTooLarge
            case invalidFrameLength
            case authenticationFailed
            case peerAuthenticationFailed
            case handshakeTimeout
            case handshakeViolation
            case connectionClosed
            case malformedMessage
            case unsupportedVersion
            case unknownMessageType
            case remoteError
            case idleTimeout
            case writeStalled
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A frame header announced more bytes than the configured maximum.
        public static let frameTooLarge = Code(.frameTooLarge)
        /// A frame header carried a negative or otherwise impossible length.
        public static let invalidFrameLength = Code(.invalidFrameLength)
        /// The peer's answer to our challenge did not match: the authkeys differ.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// The peer rejected our answer to its challenge: the authkeys differ.
        public static let peerAuthenticationFailed = Code(.peerAuthenticationFailed)
        /// The handshake did not finish in time.
        public static let handshakeTimeout = Code(.handshakeTimeout)
        /// The peer sent something the handshake does not allow at this point.
        public static let handshakeViolation = Code(.handshakeViolation)
        /// The connection closed before the exchange finished.
        public static let connectionClosed = Code(.connectionClosed)
        /// A message could not be decoded: truncated, trailing bytes or invalid fields.
        public static let malformedMessage = Code(.malformedMessage)
        /// A message carried a protocol version this side does not speak.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// A message carried a type this side does not know.
        public static let unknownMessageType = Code(.unknownMessageType)
        /// The peer reported an error in a protocol error message.
        public static let remoteError = Code(.remoteError)
        /// The peer sent nothing for longer than the idle timeout.
        public static let idleTimeout = Code(.idleTimeout)
        /// The peer read nothing while more than the allowed bytes waited to be sent to it.
        public static let writeStalled = Code(.writeStalled)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// A human-readable explanation: what went wrong and what to do.
    public var message: String
    /// The remote address, when the layer that saw the failure knows it.
    public var peer: String?

    public init(_ code: Code, _ message: String, peer: String? = nil) {
        self.code = code
        self.message = message
        self.peer = peer
    }

    /// The same error, tagged with the remote address it came from.
    public func from(peer: String?) -> WireError {
        var copy = self
        copy.peer = peer
        return copy
    }

    public var description: String {
        if let peer { return "\(message) (peer \(peer))" }
        return message
    }
}

extension WireError {
    static func malformed(_ what: String) -> WireError {
        WireError(.malformedMessage, "malformed message: \(what)")
    }
}
