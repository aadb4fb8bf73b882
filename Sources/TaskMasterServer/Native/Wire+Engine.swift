import TaskQueue
import TaskWire

// Conversions between the wire protocol's types and the queue engine's.

extension WaitTime {
    var limit: WaitLimit {
        switch self {
        case .none: return .none
        case .milliseconds(let ms): return .upTo(.milliseconds(Int64(ms)))
        case .forever: return .forever
        }
    }
}

extension Delivery {
    init(_ task: QueuedTask) {
        self.init(id: task.id, attempt: task.attempt, reference: task.reference, payload: task.payload)
    }
}

extension AckOutcome {
    init(_ result: AckResult) {
        self.init(count: UInt32(clamping: result.count), unknown: result.unknown)
    }
}

extension ErrorReply {
    /// The reply for an error thrown while serving a request.
    init(_ error: any Error) {
        switch error {
        case let error as QueueError:
            let code: ErrorReply.Code
            switch error.code {
            case .queueFull: code = .queueFull
            case .shuttingDown: code = .shuttingDown
            case .tooManyQueues: code = .limitExceeded
            default: code = .invalidArgument
            }
            self.init(code: code, message: error.message, acceptedIDs: error.acceptedIDs)
        case is CancellationError:
            self.init(code: .shuttingDown, message: "the request was cancelled: the master is closing this connection")
        default:
            self.init(code: .internalError, message: "internal error: \(error)")
        }
    }
}
