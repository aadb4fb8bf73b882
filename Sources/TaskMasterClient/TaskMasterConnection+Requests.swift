import TaskMasterStatus
import TaskWire

extension TaskMasterConnection {
    /// Appends items to `queue` and returns their ids, in order.
    ///
    /// - Parameter wait: how long to wait for room on a bounded queue. When it runs out the
    ///   error is `.serverError` with `serverCode == .queueFull` and the ids put so far.
    public func put(_ items: [NewItem], into queue: String, wait: WaitTime = .forever) async throws -> [TaskID] {
        guard case .putAccepted(let ids) = try await send(.put(queue: queue, items: items, wait: wait)) else {
            throw unexpected("put")
        }
        return ids
    }

    /// Takes up to `maxItems` tasks from `queue`, waiting up to `wait` for the first one.
    /// The tasks are leased to this connection until acknowledged; if the connection drops
    /// first, they go back to the queue. Returns an empty array if the wait ran out.
    public func get(from queue: String, maxItems: Int = 1, wait: WaitTime = .none) async throws -> [Delivery] {
        let count = UInt32(clamping: max(1, maxItems))
        guard case .deliveries(let deliveries) = try await send(.get(queue: queue, maxItems: count, wait: wait)) else {
            throw unexpected("get")
        }
        return deliveries
    }

    /// Acknowledges leased tasks: they are done.
    @discardableResult
    public func ack(_ ids: [TaskID], in queue: String) async throws -> AckOutcome {
        guard case .acknowledged(let outcome) = try await send(.ack(queue: queue, ids: ids)) else {
            throw unexpected("ack")
        }
        return outcome
    }

    /// Gives leased tasks back: they return to the front of their queue.
    @discardableResult
    public func nack(_ ids: [TaskID], in queue: String) async throws -> AckOutcome {
        guard case .acknowledged(let outcome) = try await send(.nack(queue: queue, ids: ids)) else {
            throw unexpected("nack")
        }
        return outcome
    }

    /// Atomically acknowledges tasks and puts their results; a result is kept only if its
    /// task (its `reference`) was still leased to this connection.
    @discardableResult
    public func complete(
        _ ids: [TaskID],
        in taskQueue: String,
        results: [NewItem],
        into resultQueue: String
    ) async throws -> CompleteOutcome {
        let message = ClientMessage.complete(taskQueue: taskQueue, ids: ids, resultQueue: resultQueue, results: results)
        guard case .completed(let outcome) = try await send(message) else {
            throw unexpected("complete")
        }
        return outcome
    }

    /// Counters of every queue and connected client.
    public func statistics() async throws -> StatusSnapshot {
        guard case .statistics(let statistics) = try await send(.stats) else { throw unexpected("stats") }
        return statistics
    }

    /// Reports a worker's progress; the master extends every lease this connection holds.
    public func heartbeat(_ report: WorkerReport) async throws {
        guard case .pong = try await send(.heartbeat(report)) else { throw unexpected("heartbeat") }
    }

    /// Up to `maxItems` queued items of `queue`, without taking them (e.g. dead letters).
    public func peek(_ queue: String, maxItems: Int = 100) async throws -> [Delivery] {
        let count = UInt32(clamping: max(1, maxItems))
        guard case .deliveries(let items) = try await send(.peek(queue: queue, maxItems: count)) else {
            throw unexpected("peek")
        }
        return items
    }

    /// Runs a maintenance operation on `queue`; returns how many items it affected.
    @discardableResult
    public func maintain(_ queue: String, _ operation: MaintenanceOperation) async throws -> Int {
        guard case .acknowledged(let outcome) = try await send(.maintain(queue: queue, operation: operation)) else {
            throw unexpected("maintain")
        }
        return Int(outcome.count)
    }

    /// Measures a round trip to the master.
    public func ping() async throws -> Duration {
        let start = ContinuousClock.now
        guard case .pong = try await send(.ping) else { throw unexpected("ping") }
        return ContinuousClock.now - start
    }

    private func unexpected(_ request: String) -> ClientError {
        ClientError(.protocolViolation, "the master answered a \(request) request with something else", master: master)
    }
}
