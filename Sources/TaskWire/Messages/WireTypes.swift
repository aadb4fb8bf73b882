import NIOCore

/// Chosen by the client for each request and echoed in the response, so requests can be
/// pipelined on one connection and their answers matched.
public typealias RequestID = UInt32

/// A task's server-assigned identifier: unique for the life of the master.
public typealias TaskID = UInt64

/// How long an operation may wait: for items to arrive (get) or for room (put).
public enum WaitTime: Hashable, Sendable {
    /// Don't wait: answer with what is possible now.
    case none
    /// Wait up to this many milliseconds.
    case milliseconds(UInt32)
    /// Wait until it can be done.
    case forever

    /// The wire form: 0 is no wait, `UInt32.max` forever, anything else milliseconds.
    var wireValue: UInt32 {
        switch self {
        case .none: return 0
        case .milliseconds(let ms): return min(ms, UInt32.max - 1)
        case .forever: return UInt32.max
        }
    }

    init(wireValue: UInt32) {
        switch wireValue {
        case 0: self = .none
        case UInt32.max: self = .forever
        default: self = .milliseconds(wireValue)
        }
    }

    /// A wait of `seconds`, rounded to milliseconds; negative means no wait.
    public static func seconds(_ seconds: Double) -> WaitTime {
        guard seconds > 0 else { return .none }
        let ms = (seconds * 1000).rounded(.up)
        return ms >= Double(UInt32.max - 1) ? .forever : .milliseconds(UInt32(ms))
    }
}

/// An item to put on a queue.
public struct NewItem: Hashable, Sendable {
    /// The id of the task this item answers (a result's task), or 0 for none.
    public var reference: TaskID
    /// The value, as a pickle (see docs/PROTOCOL.md, "Values"). A decoded item's payload is a
    /// slice of the frame it came in: no copy per item.
    public var payload: ByteBuffer

    public init(payload: ByteBuffer, reference: TaskID = 0) {
        self.reference = reference
        self.payload = payload
    }

    public init(payload: [UInt8], reference: TaskID = 0) {
        self.init(payload: ByteBuffer(bytes: payload), reference: reference)
    }
}

/// A task handed to a consumer, leased to its connection until acknowledged.
public struct Delivery: Hashable, Sendable {
    /// The server-assigned task id.
    public var id: TaskID
    /// How many times this task has been handed out, this time included.
    public var attempt: UInt32
    /// The id of the task this item answers, or 0.
    public var reference: TaskID
    /// The value, as a pickle. A decoded delivery's payload is a slice of the frame it came in.
    public var payload: ByteBuffer

    public init(id: TaskID, attempt: UInt32, reference: TaskID, payload: ByteBuffer) {
        self.id = id
        self.attempt = attempt
        self.reference = reference
        self.payload = payload
    }

    public init(id: TaskID, attempt: UInt32, reference: TaskID, payload: [UInt8]) {
        self.init(id: id, attempt: attempt, reference: reference, payload: ByteBuffer(bytes: payload))
    }

    /// The payload's bytes, copied out.
    public var bytes: [UInt8] { Array(payload.readableBytesView) }
}
