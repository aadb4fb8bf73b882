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
    public func run(_ number: Int, on master: TaskMasterConnection) async throws -> Outcome {
        let start = ContinuousClock.now
        let deadline = start.advanced(by: timeout)
        guard let id = try await master.put([NewItem(payload: Square.task(number))], into: taskQueue).first else {
            return .timedOut
        }
        while ContinuousClock.now < deadline {
            let left = deadline - ContinuousClock.now
            let wait = WaitTime.milliseconds(UInt32(clamping: max(1, left.components.seconds * 1000)))
            guard let result = try await master.get(from: resultQueue, maxItems: 1, wait: wait).first else { continue }
            guard result.reference == id else {
                try await master.nack([result.id], in: resultQueue)  // someone else's
                continue
            }
            let elapsed = ContinuousClock.now - start
            try await master.ack([result.id], in: resultQueue)
            guard result.payload.readableBytesView.elementsEqual(Square.resultPickle(number)) else {
                return .wrong((try? PickleReader.read(result.bytes))?.stringValue ?? "<not a str>")
            }
            return .squared(elapsed)
        }
        return .timedOut
    }
}
