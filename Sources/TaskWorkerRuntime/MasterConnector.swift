import Synchronization
import TaskMasterClient
import TaskMasterConfiguration

/// Connects to the first of several masters that answers.
///
/// Each ``withConnection(_:)`` tries the masters once each, in order, starting with the one
/// that answered last; after a connection that ended with an error (the master was lost, say)
/// the next call starts with the master after it, round robin. A master that refuses the
/// authkey ends the search: the keys differ, and another try can't help.
///
/// ```swift
/// let masters = MasterConnector(settings: settings, name: "report-job 42@host")
/// let depth = try await masters.withConnection { master in
///     try await master.statistics().queues.first { $0.name == "task" }?.depth
/// }
/// ```
public final class MasterConnector: Sendable {
    /// The masters, in order of preference.
    public let endpoints: [Endpoint]
    private let authKey: Secret
    private let name: String
    private let options: TaskMasterConnection.Options
    /// Where the next call starts.
    private let first = Mutex(0)

    /// - Parameters:
    ///   - name: how the masters list this client, e.g. `task-ctl 1234@host-b`.
    public init(settings: ConnectionSettings, name: String, options: TaskMasterConnection.Options? = nil) {
        self.endpoints =
            settings.endpoints.isEmpty ? [ConnectionSettings(authKey: settings.authKey).endpoint] : settings.endpoints
        self.authKey = settings.authKey
        self.name = name
        self.options = options ?? TaskMasterConnection.Options(settings)
    }

    /// The master the next call tries first.
    public var current: Endpoint { endpoints[first.withLock { $0 }] }

    /// Connects to the first master that answers, runs `body` with the connection, and
    /// closes it.
    ///
    /// - Throws: ``ClientError``: when no master answered, `.connectFailed` naming each with
    ///   its reason (the error itself when there is only one); when a master refused the
    ///   authkey, that; otherwise whatever `body` throws.
    public func withConnection<Result: Sendable>(
        _ body: (TaskMasterConnection) async throws -> Result
    ) async throws -> Result {
        let start = first.withLock { $0 }
        var failures: [(Endpoint, ClientError)] = []
        for offset in 0..<endpoints.count {
            let index = (start + offset) % endpoints.count
            let endpoint = endpoints[index]
            var started = false
            do {
                let result = try await TaskMasterConnection.withConnection(
                    to: endpoint.host,
                    port: endpoint.port,
                    authKey: authKey.bytes,
                    name: name,
                    options: options
                ) { master in
                    started = true
                    first.withLock { $0 = index }
                    return try await body(master)
                }
                return result
            } catch let error as ClientError where !started && error.code != .authenticationFailed {
                failures.append((endpoint, error))
            } catch {
                // Lost, or the body gave up: the next call tries the next master first.
                if started { first.withLock { $0 = (index + 1) % endpoints.count } }
                throw error
            }
        }
        throw Self.noneAnswered(failures)
    }

    /// Like ``withConnection(_:)``, but while no master answers, tries again, round after
    /// round with backoff between them, until one does or `limit` has passed.
    ///
    /// - Parameters:
    ///   - limit: how long to keep trying; nil or zero for one round.
    ///   - onWaiting: called once, with the first round's error, when waiting begins.
    public func withConnection<Result: Sendable>(
        waitingUpTo limit: Duration?,
        onWaiting: (ClientError) -> Void = { _ in },
        _ body: (TaskMasterConnection) async throws -> Result
    ) async throws -> Result {
        let deadline = ContinuousClock.now.advanced(by: limit ?? .zero)
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(2))
        var waiting = false
        while true {
            var started = false
            do {
                return try await withConnection { master in
                    started = true
                    return try await body(master)
                }
            } catch let error as ClientError where !started && error.code != .authenticationFailed {
                let left = deadline - ContinuousClock.now
                guard left > .zero else { throw error }
                if !waiting { onWaiting(error) }
                waiting = true
                try await Task.sleep(for: min(backoff.next(), left))
            }
        }
    }

    /// The error for a round in which no master answered.
    static func noneAnswered(_ failures: [(Endpoint, ClientError)]) -> ClientError {
        if failures.count == 1 { return failures[0].1 }
        let each = failures.map { endpoint, error in "\(endpoint) (\(error.reason ?? error.message))" }
        let list = each.dropLast().joined(separator: ", ") + " or " + (each.last ?? "")
        return ClientError(.connectFailed, "can't connect to \(list)", reason: failures.first?.1.reason)
    }
}
