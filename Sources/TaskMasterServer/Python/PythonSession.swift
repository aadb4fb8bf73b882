import Logging
import NIOCore

/// Serves a Python `multiprocessing.managers` client.
struct PythonSession {
    let context: SessionContext
    var channel: SessionChannel

    mutating func run(first: ByteBuffer) async throws {
        channel.logger.warning("a non-native client connected; Python manager clients are not served yet")
    }
}
