import Logging
import NIOCore
import Synchronization
import TaskQueue
import TaskWire

/// Serves a native TaskMaster client: requests take effect in the order they arrive and are
/// answered in that order, except gets that have to wait for items, answered when the items
/// come, and changes that wait for the disk, answered once durable, without holding up the
/// requests behind them (each response carries its request's id).
struct NativeSession {
    let context: SessionContext
    var channel: SessionChannel
    /// Answers waiting for the disk. Past ``maxAnswersWaitingForDisk`` the next one is waited
    /// for in line, which stops reading the client's requests meanwhile: a client far ahead of
    /// the disk is slowed down instead of piling up work in the master.
    private let answersWaitingForDisk = AnswerCount()

    static let maxAnswersWaitingForDisk = 64

    /// Runs until the client disconnects or breaks the protocol. Tasks still leased to the
    /// connection are returned to their queues by the caller.
    mutating func run(hello frame: ByteBuffer) async throws {
        let hello: Hello
        do throws(WireError) {
            hello = try Hello(decoding: frame)
        } catch {
            await send(Response(requestID: 0, .error(ErrorReply(code: .malformedRequest, message: error.message))))
            channel.logger.warning("closing: bad hello", metadata: ["error": "\(error)"])
            throw SessionEnded()
        }
        guard hello.version >= 1 else {
            await refuse(
                code: .unsupportedVersion,
                "protocol version \(hello.version) is not supported; this master speaks 1"
            )
            throw SessionEnded()
        }
        context.registry.identify(channel.id, kind: .native, name: hello.name)
        channel.logger[metadataKey: "client"] = "\(hello.name)"
        channel.logger.info("native client connected")
        try await channel.outbound.write(helloReply())

        let outbound = channel.outbound
        let id = channel.id
        let logger = channel.logger
        try await withThrowingDiscardingTaskGroup { group in
            defer { group.cancelAll() }  // waiting gets end with the connection
            while let frame = try await nextFrame() {
                let request: Request
                do throws(WireError) {
                    request = try Request(decoding: frame)
                } catch {
                    await refuse(requestID: Request.peekID(frame) ?? 0, error)
                    throw SessionEnded()
                }
                if let waiting = try await handle(request) {
                    group.addTask {
                        let response = await waiting()
                        try? await outbound.write(Self.encode(response))
                    }
                }
            }
            logger.debug("client closed the connection", metadata: ["conn": "\(id)"])
        }
    }

    /// The next frame, or nil at the end. A framing error (an oversized frame, say) is told to
    /// the client before the session ends.
    private mutating func nextFrame() async throws -> ByteBuffer? {
        do {
            return try await channel.inbound.next()
        } catch let error as WireError {
            let code: ErrorReply.Code
            switch error.code {
            case .frameTooLarge: code = .limitExceeded
            case .idleTimeout: code = .idleTimeout
            default: code = .malformedRequest
            }
            await refuse(code: code, error.message + "; closing the connection")
            throw error
        }
    }

    private func helloReply() -> ByteBuffer {
        var buffer = ByteBuffer()
        Hello(name: "task-master").encode(into: &buffer)
        return buffer
    }

    /// Answers a request, or returns the work of an answer that has to wait: for items, or for
    /// the disk.
    private func handle(_ request: Request) async throws -> (@Sendable () async -> Response)? {
        let limits = context.configuration
        let engine = context.engine
        let consumer = channel.id
        let requestID = request.id
        switch request.message {
        case .put(let queue, let items, let wait):
            guard items.count <= limits.maxItemsPerRequest else {
                return try await limitBroken("a put of \(items.count) items", request)
            }
            let tasks = items.map { NewTask(payload: $0.payload, reference: $0.reference) }
            let response = await answer(requestID) {
                .putAccepted(try await engine.put(tasks, into: queue, wait: wait.limit, untilDurable: false))
            }
            return await answerWhenDurable(response)

        case .get(let queue, let maxItems, let wait):
            let count = Int(min(maxItems, UInt32(limits.maxItemsPerRequest)))
            // Take what is there without waiting; only an empty queue needs a waiting task.
            var waitingGet = false
            await send(
                await answer(requestID) {
                    let tasks = try await engine.get(from: queue, maxItems: count, consumer: consumer, wait: .none)
                    if tasks.isEmpty, wait != .none {
                        waitingGet = true
                        return nil
                    }
                    return .deliveries(tasks.map(Delivery.init))
                }
            )
            if waitingGet {
                return {
                    await Self.answer(requestID) {
                        let tasks = try await engine.get(
                            from: queue,
                            maxItems: count,
                            consumer: consumer,
                            wait: wait.limit
                        )
                        return .deliveries(tasks.map(Delivery.init))
                    }
                }
            }

        case .ack(let queue, let ids):
            guard ids.count <= limits.maxItemsPerRequest else {
                return try await limitBroken("an ack of \(ids.count) ids", request)
            }
            let result = engine.settleNow(ids, in: queue, consumer: consumer, requeue: false)
            return await answerWhenDurable(Response(requestID: requestID, .acknowledged(AckOutcome(result))))

        case .nack(let queue, let ids):
            guard ids.count <= limits.maxItemsPerRequest else {
                return try await limitBroken("a nack of \(ids.count) ids", request)
            }
            let result = engine.settleNow(ids, in: queue, consumer: consumer, requeue: true)
            return await answerWhenDurable(Response(requestID: requestID, .acknowledged(AckOutcome(result))))

        case .complete(let taskQueue, let ids, let resultQueue, let results):
            guard ids.count <= limits.maxItemsPerRequest, results.count <= limits.maxItemsPerRequest else {
                return try await limitBroken("a complete of \(ids.count) ids and \(results.count) results", request)
            }
            let tasks = results.map { NewTask(payload: $0.payload, reference: $0.reference) }
            let response = await answer(requestID) {
                let (ack, resultIDs) = try await engine.complete(
                    ids,
                    in: taskQueue,
                    consumer: consumer,
                    results: tasks,
                    into: resultQueue,
                    untilDurable: false
                )
                return .completed(CompleteOutcome(ack: AckOutcome(ack), resultIDs: resultIDs))
            }
            return await answerWhenDurable(response, completion: true)

        case .stats:
            await send(Response(requestID: requestID, .statistics(await context.status.statusSnapshot())))

        case .ping:
            await send(Response(requestID: requestID, .pong))

        case .heartbeat(let report):
            engine.extendLeases(consumer: consumer)
            context.registry.report(consumer, report)
            await send(Response(requestID: requestID, .pong))

        case .peek(let queue, let maxItems):
            let count = Int(min(maxItems, UInt32(limits.maxItemsPerRequest)))
            let tasks = engine.peek(queue, maxItems: count)
            await send(Response(requestID: requestID, .deliveries(tasks.map(Delivery.init))))

        case .maintain(let queue, let operation):
            await send(
                await answer(requestID) {
                    let count: Int
                    switch operation {
                    case .requeueDead: count = try await engine.requeueDead(queue)
                    case .purge: count = await engine.purge(queue)
                    }
                    channel.logger.notice(
                        "queue maintenance",
                        metadata: ["queue": "\(queue)", "operation": "\(operation)", "items": "\(count)"]
                    )
                    return .acknowledged(AckOutcome(count: UInt32(clamping: count), unknown: []))
                }
            )
        }
        return nil
    }

    /// Sends `response` now if what it reports is durable (or there is no store); otherwise
    /// returns the wait, for a task of its own, so that later requests are not held up.
    private func answerWhenDurable(
        _ response: Response?,
        completion: Bool = false
    ) async -> (@Sendable () async -> Response)? {
        guard let response else { return nil }
        let engine = context.engine
        guard let mark = engine.durabilityMark(completion: completion) else {
            await send(response)
            return nil
        }
        let waiting = answersWaitingForDisk
        guard waiting.count.add(1, ordering: .relaxed).newValue <= Self.maxAnswersWaitingForDisk else {
            await engine.waitUntilDurable(mark)
            waiting.count.subtract(1, ordering: .relaxed)
            await send(response)
            return nil
        }
        return {
            await engine.waitUntilDurable(mark)
            waiting.count.subtract(1, ordering: .relaxed)
            return response
        }
    }

    /// Runs an operation, turning a queue error into the error reply the client should see.
    /// `nil` from the body means it answered nothing (yet).
    private func answer(_ requestID: RequestID, _ body: () async throws -> ServerMessage?) async -> Response? {
        do {
            return try await body().map { Response(requestID: requestID, $0) }
        } catch {
            return Response(requestID: requestID, .error(ErrorReply(error)))
        }
    }

    private static func answer(_ requestID: RequestID, _ body: () async throws -> ServerMessage) async -> Response {
        do {
            return Response(requestID: requestID, try await body())
        } catch {
            return Response(requestID: requestID, .error(ErrorReply(error)))
        }
    }

    /// A request over a configured limit: the client is told, and the connection closed.
    private func limitBroken(_ what: String, _ request: Request) async throws -> (@Sendable () async -> Response)? {
        let message =
            "\(what) exceeds max_items_per_request (\(context.configuration.maxItemsPerRequest)); split it into smaller requests"
        await refuse(requestID: request.id, code: .limitExceeded, message)
        throw SessionEnded()
    }

    private func refuse(requestID: RequestID, _ error: WireError) async {
        let code: ErrorReply.Code
        switch error.code {
        case .unsupportedVersion: code = .unsupportedVersion
        case .unknownMessageType: code = .unknownRequest
        default: code = .malformedRequest
        }
        await refuse(requestID: requestID, code: code, error.message + "; closing the connection")
    }

    private func refuse(requestID: RequestID = 0, code: ErrorReply.Code, _ message: String) async {
        channel.logger.warning("closing: protocol error", metadata: ["error": "\(message)"])
        await send(Response(requestID: requestID, .error(ErrorReply(code: code, message: message))))
    }

    private func send(_ response: Response?) async {
        guard let response else { return }
        // A failed write means the client is gone; the read loop sees that next.
        try? await channel.outbound.write(Self.encode(response))
    }

    static func encode(_ response: Response) -> ByteBuffer {
        var buffer = ByteBuffer()
        response.encode(into: &buffer)
        return buffer
    }
}

/// How many of a session's answers wait for the disk.
private final class AnswerCount: Sendable {
    let count = Atomic<Int>(0)
}

/// Thrown to end a session after the client has been told why.
struct SessionEnded: Error {}
