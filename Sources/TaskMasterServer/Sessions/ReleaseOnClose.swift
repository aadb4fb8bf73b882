import Logging
import QueueBackend

/// A connection's end, for its session: its waits end and its leased tasks go back to their
/// queues. Done by the session handler as soon as the connection closes, on its event loop;
/// the server releases it again once the connection's task ends (a no-op by then), which
/// covers a connection that never got as far as a session.
enum ReleaseOnClose {
    static func release(_ connection: ConsumerID, services: SessionServices, logger: Logger) {
        services.backend.release(connection) { result in
            switch result {
            case .success(let returned) where returned > 0:
                logger.info(
                    "connection closed; its leased tasks went back to their queues",
                    metadata: ["tasks": "\(returned)"]
                )
            case .success:
                break
            case .failure(let error):
                logger.error("could not return the connection's tasks: \(error.message)")
            }
        }
    }
}
