import Pickle
import TaskMasterClient
import TaskWire

/// One number's round trip, as `task-ctl latency` measures it: put it, wait for its square,
/// check it. Results that are not this number's go back to the queue.
public struct RoundTrip: Sendable {
    public var taskQueue = "task"
    public var resultQueue = "result"
    /// Give up waiting for the square after this long. Default 30 s.
    public var timeout: Duration = .seconds(30)

    public init() {}

    /// What came back.
    public enum Outcome: Sendable, Hashable {
        /// The right square, after this long.
        case squared(Duration)
        /// A result for the number that is not its square.
        case wrong(String)
        /// No result within the timeout.
        case timedOut
    }

    /// Puts `number`, waits for its result and acknowledges it. The duration is from just
    /// before the put until the result is in hand (the ack comes after).
    ///
    /// The get for the result is sent with the put, not after its answer: it waits at the
    /// master while the worker squares, so the result comes straight back.
    public func run(_ number: Int, on master: TaskMasterConnection) async throws -> Outcome {
        let start = ContinuousClock.now
        let deadline = start.advanced(by: timeout)
        async let putting = master.put([NewItem(payload: Square.task(number))], into: taskQueue)
        async let firstResult = master.get(from: resultQueue, maxItems: 1, wait: wait(until: deadline))
        guard let id = try await putting.first else { return .timedOut }
        var next = try await firstResult.first
        while true {
            if let result = next {
                guard result.reference == id else {
                    try await master.nack([result.id], in: resultQueue)  // someone else's
                    next = nil
                    continue
                }
                let elapsed = ContinuousClock.now - start
                try await master.ack([result.id], in: resultQueue)
                guard Square.isResultPickle(result.payload, of: number) else {
                    return .wrong((try? PickleReader.read(result.bytes))?.stringValue ?? "<not a str>")
                }
                return .squared(elapsed)
            }
            guard ContinuousClock.now < deadline else { return .timedOut }
            next = try await master.get(from: resultQueue, maxItems: 1, wait: wait(until: deadline)).first
        }
    }

    /// A get's wait that ends at `deadline` (at least 1 ms).
    private func wait(until deadline: ContinuousClock.Instant) -> WaitTime {
        let left = deadline - ContinuousClock.now
        let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
        return .milliseconds(UInt32(clamping: max(1, milliseconds)))
    }
}
