import TaskMasterStatus

/// A response from the master to a native client.
public enum ServerMessage: Hashable, Sendable {
    /// The ids assigned to the put items, in order.
    case putAccepted([TaskID])
    /// Items taken from the queue and leased to this connection.
    case deliveries([Delivery])
    /// The outcome of an ack or nack.
    case acknowledged(AckOutcome)
    /// The outcome of a complete.
    case completed(CompleteOutcome)
    /// The master's queues, clients and counters.
    case statistics(StatusSnapshot)
    case pong
    /// The request failed. The connection stays open unless the code says otherwise.
    case error(ErrorReply)
}

/// The outcome of an ack or nack.
public struct AckOutcome: Hashable, Sendable {
    /// How many of the ids were leased to this connection and are now done (or requeued).
    public var count: UInt32
    /// Ids that were not leased to this connection: unknown, already acknowledged,
    /// or given to another consumer after their lease ended.
    public var unknown: [TaskID]

    public init(count: UInt32, unknown: [TaskID]) {
        self.count = count
        self.unknown = unknown
    }
}

/// The outcome of a complete.
public struct CompleteOutcome: Hashable, Sendable {
    /// The ack part.
    public var ack: AckOutcome
    /// The ids of the results put, in the order of the results that were kept.
    public var resultIDs: [TaskID]

    public init(ack: AckOutcome, resultIDs: [TaskID]) {
        self.ack = ack
        self.resultIDs = resultIDs
    }
}

/// An error answer.
public struct ErrorReply: Hashable, Sendable, CustomStringConvertible {
    /// What failed. Extensible: unknown codes from a newer master read as themselves.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// The request could not be decoded. The master closes the connection.
        public static let malformedRequest = Code(rawValue: 1)
        /// The request's protocol version is not spoken here. The master closes the connection.
        public static let unsupportedVersion = Code(rawValue: 2)
        /// The request type is unknown. The master closes the connection.
        public static let unknownRequest = Code(rawValue: 3)
        /// The queue stayed full for the whole wait.
        public static let queueFull = Code(rawValue: 4)
        /// A field is out of range, e.g. an empty queue name.
        public static let invalidArgument = Code(rawValue: 5)
        /// A configured limit was exceeded, e.g. too many items in one request.
        public static let limitExceeded = Code(rawValue: 6)
        /// The master is shutting down.
        public static let shuttingDown = Code(rawValue: 7)
        /// Something failed inside the master.
        public static let internalError = Code(rawValue: 8)
        /// The connection was silent past the master's idle timeout. The master closes it.
        public static let idleTimeout = Code(rawValue: 9)
        /// The master's queue store can't be reached now (a database failing over): nothing
        /// was done; retry later, or through another master.
        public static let unavailable = Code(rawValue: 10)

        public var description: String {
            switch self {
            case .malformedRequest: return "malformed request"
            case .unsupportedVersion: return "unsupported version"
            case .unknownRequest: return "unknown request"
            case .queueFull: return "queue full"
            case .invalidArgument: return "invalid argument"
            case .limitExceeded: return "limit exceeded"
            case .shuttingDown: return "shutting down"
            case .internalError: return "internal error"
            case .idleTimeout: return "idle timeout"
            case .unavailable: return "unavailable"
            default: return "error \(rawValue)"
            }
        }
    }

    public var code: Code
    public var message: String
    /// For `queueFull`: the ids of the items that were put before the wait ran out.
    public var acceptedIDs: [TaskID]

    public init(code: Code, message: String, acceptedIDs: [TaskID] = []) {
        self.code = code
        self.message = message
        self.acceptedIDs = acceptedIDs
    }

    public var description: String { "\(code): \(message)" }
}

/// A server message with the id of the request it answers (0 for unsolicited errors).
public struct Response: Hashable, Sendable {
    public var requestID: RequestID
    public var message: ServerMessage

    public init(requestID: RequestID, _ message: ServerMessage) {
        self.requestID = requestID
        self.message = message
    }
}
