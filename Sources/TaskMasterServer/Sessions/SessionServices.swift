import QueueBackend
import TaskMasterAdmin

/// What session handlers need from the master, shared by every connection: the queues, the
/// other connections, the status, the Python objects.
struct SessionServices: Sendable {
    let backend: any QueueBackend
    let registry: ConnectionRegistry
    let status: any StatusSource
    /// The queues Python clients reach, by object id.
    let pythonObjects: PythonObjects
    /// Whether a Python client's `shutdown` may stop the master.
    let allowsRemoteShutdown: Bool
    /// Asks the master to stop, as a remote `shutdown` may (when allowed).
    let requestShutdown: @Sendable () -> Void
    /// Keeps a log line that any client can cause again and again to a few per interval.
    let logThrottle: LogThrottle
}
