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

    /// A connection to the primary, or the reason none of the hosts is one now.
    func connectToPrimary() async throws -> PostgresConnection {
        var reasons: [String] = []
        for host in url.hosts {
            do {
                let connection = try await connect(to: host)
                do {
                    var standby = true
                    for try await inRecovery in try await connection.query("SELECT pg_is_in_recovery()", logger: logger)
                        .decode(Bool.self)
                    {
                        standby = inRecovery
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

    private func connect(to host: PostgresURL.Host) async throws -> PostgresConnection {
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
        ]
        return try await PostgresConnection.connect(
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

extension Duration {
    /// Whole milliseconds, rounded down.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
