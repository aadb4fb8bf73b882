import NIOCore
import TaskWire

/// What a connection writes into its pipeline: the hello, or a request with the promise its
/// answer completes.
enum ClientOutbound {
    case hello(ByteBuffer)
    case request(ClientRequest)
}

/// A request on its way to the master.
struct ClientRequest {
    var id: RequestID
    var frame: ByteBuffer
    /// Completed with the answer; nil for a request nobody waits for.
    var answer: EventLoopPromise<ServerMessage>?
    /// For a get: its queue, so that tasks handed to a get whose caller gave up go back.
    var queueOfGet: String?
}

/// The client end of a native connection, on its event loop: matches each answer to its
/// request's promise as it is read, with no task and no lock in between, so a caller whose task
/// runs on the same event loop is answered without a thread hop.
///
/// The first frame is the master's hello (or its refusal). A request whose caller gave up
/// (``abandon(_:)``) has its answer dropped, except that tasks it delivers are given back.
/// When the connection ends every request still waiting fails with why.
///
/// Flushes wait for the end of the event loop's current batch of work: requests made one
/// after another on the loop (a put and the get for its result, a worker's completion and
/// its next get) go out in one write.
final class ClientChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ClientOutbound
    typealias OutboundOut = ByteBuffer

    private enum State {
        case awaitingHello(EventLoopPromise<String>)
        case ready
        case closed(ClientError)
    }

    private var state: State
    private var waiting: [RequestID: ClientRequest] = [:]
    /// Why the master closed the connection, when it said (an error for request 0).
    private var closingReason: ClientError?
    private var flushScheduled = false
    private let master: String
    private let makeRequestID: @Sendable () -> RequestID

    init(master: String, hello: EventLoopPromise<String>, makeRequestID: @escaping @Sendable () -> RequestID) {
        self.master = master
        self.state = .awaitingHello(hello)
        self.makeRequestID = makeRequestID
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .hello(let frame):
            context.write(wrapOutboundOut(frame), promise: promise)
        case .request(let request):
            if case .closed(let error) = state {
                request.answer?.fail(error)
                promise?.fail(error)
                return
            }
            waiting[request.id] = request
            context.write(wrapOutboundOut(request.frame), promise: promise)
        }
    }

    func flush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context) = bound.value
            handler.flushScheduled = false
            context.flush()
        }
    }

    /// The caller of `id` gave up: its answer is dropped (tasks it delivers are given back).
    func abandon(_ id: RequestID, context: ChannelHandlerContext) {
        guard var request = waiting[id], let answer = request.answer else { return }
        request.answer = nil
        waiting[id] = request
        answer.fail(CancellationError())
    }

    /// Every waiting get's caller gives up (the worker is stopping).
    func abandonGets(context: ChannelHandlerContext) {
        for (id, request) in waiting where request.queueOfGet != nil { abandon(id, context: context) }
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch state {
        case .awaitingHello(let hello):
            state = .ready
            do {
                hello.succeed(try readHello(frame))
            } catch {
                hello.fail(error)
                context.close(promise: nil)
            }
        case .ready:
            let response: Response
            do {
                response = try Response(decoding: frame)
            } catch {
                closingReason = ClientError(.protocolViolation, "unreadable response: \(error)", master: master)
                context.close(promise: nil)
                return
            }
            guard let request = waiting.removeValue(forKey: response.requestID) else {
                if response.requestID == 0, case .error(let error) = response.message {
                    // An error for no request in particular: the master is closing this connection.
                    closingReason = ClientError(
                        .serverError,
                        "the master closed the connection: \(error.message)",
                        master: master,
                        serverCode: error.code
                    )
                }
                return
            }
            if let answer = request.answer {
                answer.succeed(response.message)
            } else {
                giveBack(response.message, of: request, context: context)
            }
        case .closed:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if closingReason == nil {
            if let error = error as? WireError {
                closingReason = ClientError(error, master: master)
            } else {
                let reason = ErrorReason.transport(error)
                closingReason = ClientError(
                    .connectionClosed,
                    "the connection to the master failed: \(reason)",
                    master: master,
                    reason: reason
                )
            }
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(closingReason ?? ClientError(.connectionClosed, "the master closed the connection", master: master))
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // A connect that failed never made the channel active: nothing may be left waiting.
        end(closingReason ?? ClientError(.connectionClosed, "the connection to the master failed", master: master))
    }

    /// Ends the connection for every request still waiting (and for later ones) with `error`.
    private func end(_ error: ClientError) {
        if case .awaitingHello(let hello) = state { hello.fail(error) }
        if case .closed = state { return }
        state = .closed(error)
        let failed = waiting.values
        waiting = [:]
        for request in failed { request.answer?.fail(error) }
    }

    /// Reads the master's hello: its name, or the error it refused us with.
    private func readHello(_ frame: ByteBuffer) throws -> String {
        if !Hello.isHello(frame.readableBytesView), let response = try? Response(decoding: frame),
            case .error(let error) = response.message
        {
            throw ClientError(
                .serverError,
                "the master refused this client: \(error.message)",
                master: master,
                serverCode: error.code
            )
        }
        do {
            return try Hello(decoding: frame).name
        } catch {
            throw ClientError(.protocolViolation, "the master's hello is unreadable: \(error)", master: master)
        }
    }

    /// Gives back tasks a get whose caller gave up was handed, so they don't sit leased until
    /// the connection closes.
    private func giveBack(_ message: ServerMessage, of request: ClientRequest, context: ChannelHandlerContext) {
        guard let queue = request.queueOfGet, case .deliveries(let deliveries) = message, !deliveries.isEmpty else {
            return
        }
        var frame = ByteBuffer()
        let id = makeRequestID()
        Request(id: id, .nack(queue: queue, ids: deliveries.map(\.id))).encode(into: &frame)
        waiting[id] = ClientRequest(id: id, frame: frame, answer: nil)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }
}
