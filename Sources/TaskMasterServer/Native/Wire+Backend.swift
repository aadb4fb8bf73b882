import NIOCore
import QueueBackend
import TaskWire

// Conversions between the wire protocol's types and the backend's.

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

extension NewTask {
    init(_ item: NewItem) {
        self.init(payload: item.payload, reference: item.reference)
    }
}

extension AckOutcome {
    init(_ result: AckResult) {
        self.init(count: UInt32(clamping: result.count), unknown: result.unknown)
    }
}

extension ErrorReply {
    /// The reply for a backend's error.
    init(_ error: QueueError) {
        let code: ErrorReply.Code
        switch error.code {
        case .queueFull, .memoryLimit: code = .queueFull
        case .shuttingDown: code = .shuttingDown
        case .cancelled: code = .shuttingDown
        case .tooManyQueues: code = .limitExceeded
        case .backendUnavailable: code = .unavailable
        case .storageFailed: code = .internalError
        default: code = .invalidArgument
        }
        self.init(code: code, message: error.message, acceptedIDs: error.acceptedIDs)
    }
}
