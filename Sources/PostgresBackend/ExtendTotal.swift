import QueueBackend
import Synchronization

/// One heartbeat's answer when its extends run on several lanes: the sum of the leases they
/// extended, once all have answered; the first failure if one fails.
final class ExtendTotal: Sendable {
    private let state: Mutex<(left: Int, extended: Int, failure: QueueError?)>
    private let reply: QueueReply<Int>

    init(parts: Int, reply: @escaping QueueReply<Int>) {
        self.state = Mutex((left: parts, extended: 0, failure: nil))
        self.reply = reply
    }

    /// The answer of one part.
    func part(_ result: Result<Int, QueueError>) {
        let done: Result<Int, QueueError>? = state.withLock { state in
            switch result {
            case .success(let count): state.extended += count
            case .failure(let error): state.failure = state.failure ?? error
            }
            state.left -= 1
            guard state.left == 0 else { return nil }
            return state.failure.map { .failure($0) } ?? .success(state.extended)
        }
        if let done { reply(done) }
    }
}
