import NIOCore
import QueueBackend
import TaskMasterStatus
import TaskWire

/// Serves a native TaskMaster client, as a state machine: frames and answers in, an ``Action``
/// out for ``NativeSessionHandler`` to carry out. No I/O, no backend, no clock: tests drive it
/// with bytes.
///
/// Requests take effect in the order they arrive (each becomes a backend call at once) and each
/// answer carries its request's id, so answers that wait (a get for items, a put for room or
/// the disk) don't hold up the ones behind them.
///
/// Bounds per connection: at most ``Limits/maxWaitingCalls`` requests that may wait for other
/// clients (gets and puts with a wait) at once, further ones are refused with `limitExceeded`,
/// and a client that keeps sending them (``Limits/maxRefusals`` in a row) is closed; at most
/// ``Limits/maxOutstanding`` requests unanswered, beyond which the handler stops reading until
/// answers go out (``isReadingPaused``).
struct NativeSession {
    struct Limits: Sendable, Hashable {
        /// Items in one put, get, ack, nack or complete.
        var maxItemsPerRequest = 10_000
        /// Requests that may wait for other clients, unanswered at once.
        var maxWaitingCalls = 1024
        /// Requests unanswered at once before reading pauses.
        var maxOutstanding = 4096
        /// Requests refused in a row for the waiting limit before the connection is closed.
        var maxRefusals = 100
    }

    /// What the handler does next.
    enum Action: Equatable {
        case none
        /// Write this response frame (flushed once the current read is handled).
        case write(ByteBuffer)
        /// The client said hello: record its name, write this reply.
        case welcome(name: String, reply: ByteBuffer)
        /// Make this backend call; its answer goes to ``backendAnswered(_:_:)``.
        case perform(RequestID, BackendCall)
        /// Record a worker's report and extend its leases; then ``heartbeatRecorded(_:)``.
        case heartbeat(RequestID, WorkerReport)
        /// Fetch the master's status; it goes to ``statusFetched(_:_:)``.
        case fetchStatus(RequestID)
        /// Write this error response, then close the connection, letting the client read it.
        case refuse(ByteBuffer, reason: String)

    }

    private enum State {
        case awaitingHello
        case serving
        case closing
    }

    private var state = State.awaitingHello
    let limits: Limits
    /// Requests unanswered, and whether each may wait for other clients.
    private var outstanding: [RequestID: Bool] = [:]
    private var waitingCalls = 0
    private var refusalsInARow = 0

    init(limits: Limits) {
        self.limits = limits
    }

    /// Whether the handler should stop reading requests until answers go out.
    var isReadingPaused: Bool { outstanding.count >= limits.maxOutstanding }

    /// Requests not answered yet.
    var outstandingCount: Int { outstanding.count }

    // MARK: Events

    /// A frame arrived.
    mutating func frameReceived(_ frame: ByteBuffer) -> Action {
        switch state {
        case .awaitingHello:
            return hello(frame)
        case .serving:
            return request(frame)
        case .closing:
            return .none
        }
    }

    /// A backend call made for `requestID` answered.
    mutating func backendAnswered(_ requestID: RequestID, _ answer: BackendAnswer) -> Action {
        guard let mayWait = outstanding.removeValue(forKey: requestID) else { return .none }
        if mayWait { waitingCalls -= 1 }
        guard case .serving = state else { return .none }
        let message: ServerMessage
        switch answer {
        case .ids(let ids): message = .putAccepted(ids)
        case .tasks(let tasks): message = .deliveries(tasks.map(Delivery.init))
        case .settled(let result): message = .acknowledged(AckOutcome(result))
        case .completed(let completion):
            message = .completed(CompleteOutcome(ack: AckOutcome(completion.ack), resultIDs: completion.resultIDs))
        case .count(let count): message = .acknowledged(AckOutcome(count: UInt32(clamping: count), unknown: []))
        case .done, .status: message = .pong
        case .failed(let error): message = .error(ErrorReply(error))
        }
        return .write(Self.encode(Response(requestID: requestID, message)))
    }

    /// The report of a heartbeat was recorded.
    mutating func heartbeatRecorded(_ requestID: RequestID) -> Action {
        guard outstanding.removeValue(forKey: requestID) != nil, case .serving = state else { return .none }
        return .write(Self.encode(Response(requestID: requestID, .pong)))
    }

    /// The master's status, fetched for a `stats` request.
    mutating func statusFetched(_ requestID: RequestID, _ status: StatusSnapshot) -> Action {
        guard outstanding.removeValue(forKey: requestID) != nil, case .serving = state else { return .none }
        return .write(Self.encode(Response(requestID: requestID, .statistics(status))))
    }

    /// The framing below failed (an oversized frame, an idle timeout): tell the client, close.
    mutating func errorCaught(_ error: WireError) -> Action {
        guard state != .closing else { return .none }
        let code: ErrorReply.Code
        switch error.code {
        case .frameTooLarge: code = .limitExceeded
        case .idleTimeout: code = .idleTimeout
        default: code = .malformedRequest
        }
        return refuse(requestID: 0, code, error.message + "; closing the connection")
    }

    // MARK: Hello

    private mutating func hello(_ frame: ByteBuffer) -> Action {
        let hello: Hello
        do throws(WireError) {
            hello = try Hello(decoding: frame)
        } catch {
            return refuse(requestID: 0, .malformedRequest, error.message)
        }
        guard hello.version >= 1 else {
            return refuse(
                requestID: 0,
                .unsupportedVersion,
                "protocol version \(hello.version) is not supported; this master speaks 1"
            )
        }
        state = .serving
        var reply = ByteBuffer()
        Hello(name: "task-master").encode(into: &reply)
        return .welcome(name: hello.name, reply: reply)
    }

    // MARK: Requests

    private mutating func request(_ frame: ByteBuffer) -> Action {
        var request: Request
        do throws(WireError) {
            request = try Request(decoding: frame)
            // Items queued keep their frame's storage alive (they are slices of it): a frame in
            // a much larger read buffer is copied into one of its own first.
            if request.storesPayloads, frame.storageCapacity > 2 * frame.readableBytes + Self.looseStorage {
                var compact = ByteBuffer()
                compact.writeImmutableBuffer(frame)
                request = try Request(decoding: compact)
            }
        } catch {
            let code: ErrorReply.Code
            switch error.code {
            case .unsupportedVersion: code = .unsupportedVersion
            case .unknownMessageType: code = .unknownRequest
            default: code = .malformedRequest
            }
            return refuse(requestID: Request.peekID(frame) ?? 0, code, error.message + "; closing the connection")
        }
        let id = request.id
        switch request.message {
        case .put(let queue, let items, let wait):
            guard items.count <= limits.maxItemsPerRequest else { return tooMany("a put of \(items.count) items", id) }
            return perform(id, .put(items.map(NewTask.init), queue: queue, wait: wait.limit))
        case .get(let queue, let maxItems, let wait):
            let count = Int(min(maxItems, UInt32(clamping: limits.maxItemsPerRequest)))
            return perform(id, .get(queue: queue, maxItems: count, wait: wait.limit))
        case .ack(let queue, let ids):
            guard ids.count <= limits.maxItemsPerRequest else { return tooMany("an ack of \(ids.count) ids", id) }
            return perform(id, .ack(ids, queue: queue, markDone: true))
        case .nack(let queue, let ids):
            guard ids.count <= limits.maxItemsPerRequest else { return tooMany("a nack of \(ids.count) ids", id) }
            return perform(id, .nack(ids, queue: queue))
        case .complete(let taskQueue, let ids, let resultQueue, let results):
            guard ids.count <= limits.maxItemsPerRequest, results.count <= limits.maxItemsPerRequest else {
                return tooMany("a complete of \(ids.count) ids and \(results.count) results", id)
            }
            return perform(
                id,
                .complete(ids, taskQueue: taskQueue, results: results.map(NewTask.init), resultQueue: resultQueue)
            )
        case .stats:
            outstanding[id] = false
            return .fetchStatus(id)
        case .ping:
            return .write(Self.encode(Response(requestID: id, .pong)))
        case .heartbeat(let report):
            outstanding[id] = false
            return .heartbeat(id, report)
        case .peek(let queue, let maxItems):
            let count = Int(min(maxItems, UInt32(clamping: limits.maxItemsPerRequest)))
            return perform(id, .peek(queue: queue, maxItems: count))
        case .maintain(let queue, let operation):
            switch operation {
            case .requeueDead: return perform(id, .requeueDead(queue: queue))
            case .purge: return perform(id, .purge(queue: queue))
            }
        }
    }

    /// A backend call for `id`, unless the connection has too many waiting already.
    private mutating func perform(_ id: RequestID, _ call: BackendCall) -> Action {
        let mayWait = call.mayWait
        if mayWait {
            guard waitingCalls < limits.maxWaitingCalls else {
                refusalsInARow += 1
                guard refusalsInARow <= limits.maxRefusals else {
                    return refuse(
                        requestID: id,
                        .limitExceeded,
                        "\(refusalsInARow) requests in a row past the limit of \(limits.maxWaitingCalls) waiting requests per connection; closing the connection"
                    )
                }
                let message =
                    "too many waiting requests on this connection (at most \(limits.maxWaitingCalls)); wait for their answers before sending more"
                return .write(
                    Self.encode(Response(requestID: id, .error(ErrorReply(code: .limitExceeded, message: message))))
                )
            }
            waitingCalls += 1
        }
        refusalsInARow = 0
        outstanding[id] = mayWait
        return .perform(id, call)
    }

    /// A request over the item limit: the client is told, and the connection closed.
    private mutating func tooMany(_ what: String, _ id: RequestID) -> Action {
        refuse(
            requestID: id,
            .limitExceeded,
            "\(what) exceeds max_items_per_request (\(limits.maxItemsPerRequest)); split it into smaller requests"
        )
    }

    private mutating func refuse(requestID: RequestID, _ code: ErrorReply.Code, _ message: String) -> Action {
        state = .closing
        let response = Response(requestID: requestID, .error(ErrorReply(code: code, message: message)))
        return .refuse(Self.encode(response), reason: message)
    }

    /// Bytes of storage beyond a frame's own that its items may keep alive.
    static let looseStorage = 16 * 1024

    static func encode(_ response: Response) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(response.encodedSizeEstimate)
        response.encode(into: &buffer)
        return buffer
    }
}
