import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization

/// Opens connections to whichever host of the URL accepts writes: each host in turn is asked
/// `SELECT pg_is_in_recovery()`, and a standby (or a host that is down) is passed over. After
/// a failover the same search finds the promoted standby.
///
/// Every connection has the backend's schema as its `search_path` (given at startup: no round
/// trip), and says who it is in `application_name`.
final class Connector: Sendable {
    let url: PostgresURL
    let password: String?
    let logger: Logger
    private let tls: PostgresConnection.Configuration.TLS
    private let ids = Atomic<Int>(1)

    init(url: PostgresURL, password: String?, logger: Logger) throws(PostgresBackendError) {
        self.url = url
        self.password = password
        self.logger = logger
        switch url.tls {
        case .disable:
            tls = .disable
        case .require, .verifyFull:
            var configuration = TLSConfiguration.makeClientConfiguration()
            if url.tls == .require {
                configuration.certificateVerification = .none
            } else if let root = url.rootCertificate {
                configuration.trustRoots = .file(root)
            }
            do {
                tls = .require(try NIOSSLContext(configuration: configuration))
            } catch {
                throw PostgresBackendError(.invalidURL, "can't set up TLS to PostgreSQL: \(error)")
            }
        }
    }

    /// The error of the last host tried, for the log.
    struct NoPrimary: Error, CustomStringConvertible {
        var description: String
    }

    /// A connection to the primary (on `eventLoop`, or any loop), or the reason none of the
    /// hosts is one now.
    func connectToPrimary(on eventLoop: (any EventLoop)? = nil) async throws -> PostgresConnection {
        var reasons: [String] = []
        for host in url.hosts {
            do {
                // The whole attempt is bounded: a host that accepts the TCP connection but never
                // answers (a server stopped, not dead) must not hold the lane.
                let connection = try await withDeadline(url.connectTimeout * 2) {
                    try await self.connect(to: host, on: eventLoop)
                }
                do {
                    let standby = try await withDeadline(url.connectTimeout) {
                        var standby = true
                        for try await inRecovery in try await connection.query(
                            "SELECT pg_is_in_recovery()",
                            logger: self.logger
                        ).decode(Bool.self) {
                            standby = inRecovery
                        }
                        return standby
                    }
                    if !standby { return connection }
                    reasons.append("\(host): a standby")
                } catch {
                    reasons.append("\(host): \(Self.describe(error))")
                }
                try? await connection.close()
            } catch {
                reasons.append("\(host): \(Self.describe(error))")
            }
        }
        throw NoPrimary(description: "no host accepts writes (" + reasons.joined(separator: "; ") + ")")
    }

    private func connect(to host: PostgresURL.Host, on eventLoop: (any EventLoop)?) async throws -> PostgresConnection {
        var configuration = PostgresConnection.Configuration(
            host: host.name,
            port: host.port,
            username: url.user,
            password: password,
            database: url.database,
            tls: tls
        )
        configuration.options.connectTimeout = .milliseconds(url.connectTimeout.milliseconds)
        configuration.options.additionalStartupParameters = [
            ("search_path", url.schema),
            ("application_name", url.applicationName),
            // A statement that runs this long is stuck (a lock never released): fail it.
            ("statement_timeout", "60s"),
            ("idle_in_transaction_session_timeout", "60s"),
        ]
        return try await PostgresConnection.connect(
            on: eventLoop ?? PostgresConnection.defaultEventLoopGroup.any(),
            configuration: configuration,
            id: ids.wrappingAdd(1, ordering: .relaxed).oldValue,
            logger: logger
        )
    }

    /// A short description of a connection or query error (never a password: PSQLError's
    /// description names no credentials).
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                return "\(message) (\(error.serverInfo?[.sqlState] ?? "?"))"
            }
            if let underlying = error.underlying { return "\(error.code): \(underlying)" }
            return "\(error.code)"
        }
        return "\(error)"
    }
}

/// Ran past its deadline.
struct DeadlineExceeded: Error, CustomStringConvertible {
    var description: String { "no answer in time" }
}

/// The result of `operation`, or ``DeadlineExceeded`` once `limit` has passed (the operation is
/// then left to finish on its own: some awaits can't be cancelled).
func withDeadline<T: Sendable>(
    _ limit: Duration,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let outcome = Outcome<T>()
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        outcome.set(continuation)
        let work = Task {
            let result: Result<T, any Error>
            do { result = .success(try await operation()) } catch { result = .failure(error) }
            outcome.take()?.resume(with: result)
        }
        Task {
            try? await Task.sleep(for: limit)
            if let continuation = outcome.take() {
                work.cancel()
                continuation.resume(throwing: DeadlineExceeded())
            }
        }
    }
}

/// A continuation resumed once, by whoever takes it first.
private final class Outcome<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)
    func set(_ value: CheckedContinuation<T, any Error>) { continuation.withLock { $0 = value } }
    func take() -> CheckedContinuation<T, any Error>? { continuation.withLock { $0.take() } }
}

/// The connection closed while a statement was on its way.
struct ConnectionClosed: Error, CustomStringConvertible {
    var description: String { "the connection closed" }
}

/// The result of `operation` on `connection`, run on `executor` (a lane's), or
/// ``ConnectionClosed`` as soon as the connection closes first. A query written to a channel
/// that has just closed is never answered (its promise is dropped with the write), so every
/// transaction is raced against the close.
func untilClosed<T: Sendable>(
    _ connection: PostgresConnection,
    on executor: any TaskExecutor,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let outcome = Outcome<T>()
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        outcome.set(continuation)
        Task(executorPreference: executor) {
            let result: Result<T, any Error>
            do { result = .success(try await operation()) } catch { result = .failure(error) }
            outcome.take()?.resume(with: result)
        }
        connection.closeFuture.whenComplete { _ in outcome.take()?.resume(throwing: ConnectionClosed()) }
    }
}
