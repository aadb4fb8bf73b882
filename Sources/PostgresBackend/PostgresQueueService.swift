import Logging
import PostgresNIO
import QueueBackend
import ServiceLifecycle
import Synchronization

/// What runs beside a ``PostgresBackend``: the schema's migration, then the lanes (one
/// transaction at a time each), the listener (`LISTEN` for other masters' puts), and the
/// timer (ends timed waits, and polls: notifications are lost while the listener reconnects).
///
/// It should start before the server and stop after it (the master's group does so): the
/// backend's ``PostgresBackend/shutDown(reply:)`` needs the lanes to return its leases.
public struct PostgresQueueService: Service {
    let backend: PostgresBackend

    public func run() async {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await backend.migrate() }
                for lane in 0..<backend.laneSignals.count {
                    group.addTask { await backend.runLane(lane) }
                }
                group.addTask { await backend.listen() }
                group.addTask { await backend.runTimer() }
            }
        }
    }
}

extension PostgresBackend {
    /// Creates or migrates the schema, retrying until the database is there.
    func migrate() async {
        var backoff = Duration.milliseconds(50)
        var reported = false
        while !Task.isCancelled {
            do {
                let connection = try await connector.connectToPrimary()
                defer { Task { try? await connection.close() } }
                let version = try await Schema.migrate(on: connection, schema: settings.url.schema, logger: logger)
                schemaReady.store(true, ordering: .releasing)
                logger.info(
                    "queues are kept in PostgreSQL",
                    metadata: [
                        "url": "\(settings.url.redacted)", "schema_version": "\(version)", "master": "\(masterID)",
                    ]
                )
                for signal in laneSignals { signal.signal() }
                return
            } catch {
                if !reported {
                    logger.warning(
                        "can't prepare the queue schema yet; retrying",
                        metadata: ["url": "\(settings.url.redacted)", "error": "\(Connector.describe(error))"]
                    )
                    reported = true
                }
                try? await clock.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(2))
            }
        }
    }

    /// Listens for the other masters' changes until cancelled, reconnecting (and then making
    /// every waiter look again: notifications sent meanwhile are lost).
    func listen() async {
        var backoff = Duration.milliseconds(20)
        let prefix = masterID + " "
        while !Task.isCancelled {
            do {
                let connection = try await connector.connectToPrimary()
                backoff = .milliseconds(20)
                locked { state, _ in state.touchAll() }
                do {
                    try await connection.listen(on: channel) { notifications in
                        for try await notification in notifications {
                            let message = notification.payload
                            guard !message.hasPrefix(prefix) else { continue }
                            let parts = message.split(separator: " ", maxSplits: 2)
                            guard parts.count == 3 else { continue }
                            let change: Change = parts[1] == "r" ? .room : .items
                            let queue = String(parts[2])
                            locked { state, _ in state.touch(queue, change) }
                        }
                    }
                } catch {
                    logger.debug("the listener's connection ended", metadata: ["error": "\(Connector.describe(error))"])
                }
                try? await connection.close()
            } catch {
                logger.debug("the listener can't connect", metadata: ["error": "\(Connector.describe(error))"])
            }
            try? await clock.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(1))
        }
    }

    /// Ends timed waits as their time comes, and makes every waiter look again each poll
    /// interval.
    func runTimer() async {
        var lastPoll = now
        while !Task.isCancelled {
            let next: Duration? = locked { state, answers in
                let now = self.now
                var next: Duration?
                for name in Array(state.lines.keys) {
                    var line = state.lines[name]!
                    line.getters.removeAll { getter in
                        guard let deadline = getter.deadline, !getter.inFlight else { return false }
                        if deadline <= now {
                            answers.append { getter.reply(.success([])) }
                            return true
                        }
                        next = min(next ?? deadline, deadline)
                        return false
                    }
                    line.putters.removeAll { putter in
                        guard let deadline = putter.deadline, !putter.inFlight else { return false }
                        if deadline <= now {
                            let failure = QueueError(
                                .queueFull,
                                queue: name,
                                "queue '\(name)' is full (maxsize \(limits.maxSize(of: name))); \(putter.accepted.count) item(s) were put before giving up",
                                acceptedIDs: putter.accepted
                            )
                            answers.append { putter.reply(.failure(failure)) }
                            return true
                        }
                        next = min(next ?? deadline, deadline)
                        return false
                    }
                    // A putter that left may have held others back.
                    if !line.putters.isEmpty { line.maybeRoom = true }
                    state.lines[name] = line
                    state.tidy(name)
                }
                if now - lastPoll >= settings.pollInterval {
                    lastPoll = now
                    state.touchAll()
                    let getters = state.lines.values.reduce(0) { $0 + $1.getters.count }
                    let pending = state.lanes.map { "\($0.pending.count)/\($0.started)/\($0.finished)" }
                    logger.trace("poll", metadata: ["getters": "\(getters)", "lanes": "\(pending)"])
                }
                return next
            }
            let untilPoll = settings.pollInterval - (now - lastPoll)
            let wait = next.map { max(.milliseconds(1), min($0 - now, untilPoll)) } ?? untilPoll
            await timerSignal.wait(upTo: max(.milliseconds(1), wait), clock: clock)
        }
    }
}
