import TaskWire

/// An error seen by a TaskMaster client, with what to do about it where that helps.
public struct ClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The TCP connection could not be made.
        public static let connectFailed = Code("connectFailed")
        /// The handshake failed: the authkeys differ.
        public static let authenticationFailed = Code("authenticationFailed")
        /// The handshake or the hello did not complete.
        public static let handshakeFailed = Code("handshakeFailed")
        /// The connection closed while requests were outstanding, or before a new one.
        public static let connectionClosed = Code("connectionClosed")
        /// The master sent something this client can't read.
        public static let protocolViolation = Code("protocolViolation")
        /// The master answered the request with an error; see ``ClientError/serverCode``.
        public static let serverError = Code("serverError")

        public var description: String { name }
    }

    public var code: Code
    public var message: String
    /// The master's address.
    public var master: String?
    /// For `.serverError`: the master's error code.
    public var serverCode: ErrorReply.Code?
    /// For a `queueFull` server error: ids of the items put before the wait ran out.
    public var acceptedIDs: [TaskID]
    /// For `.connectFailed` and a connection that failed before it was ready: the cause in a
    /// few words (`connection refused`, `timed out`, `host not found`, …), for messages that
    /// list several masters.
    public var reason: String?

    public init(
        _ code: Code,
        _ message: String,
        master: String? = nil,
        serverCode: ErrorReply.Code? = nil,
        acceptedIDs: [TaskID] = [],
        reason: String? = nil
    ) {
        self.code = code
        self.message = message
        self.master = master
        self.serverCode = serverCode
        self.acceptedIDs = acceptedIDs
        self.reason = reason
    }

    /// The message, on one line, naming the master once.
    public var description: String {
        if let master, !message.contains(master) { return "\(message) (master \(master))" }
        return message
    }
}

extension ClientError {
    init(_ error: WireError, master: String) {
        switch error.code {
        case .authenticationFailed, .peerAuthenticationFailed:
            self.init(.authenticationFailed, error.message, master: master)
        case .handshakeTimeout, .handshakeViolation:
            self.init(.handshakeFailed, error.message, master: master)
        case .connectionClosed:
            self.init(.connectionClosed, error.message, master: master)
        default:
            self.init(.protocolViolation, error.message, master: master)
        }
    }
}
