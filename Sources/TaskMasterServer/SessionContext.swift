import Logging
import NIOCore
import TaskMasterConfiguration
import TaskQueue

/// What every session needs from the master: the queues, the limits, the other connections.
struct SessionContext: Sendable {
    let engine: QueueEngine
    let configuration: MasterConfiguration
    let registry: ConnectionRegistry
    /// The queues Python clients reach, by object id.
    let pythonObjects: PythonObjects
    /// The master's queues, clients and counters, as `stats` and the admin endpoint show them.
    let status: MasterStatus
    /// Asks the master to stop, as a remote `shutdown` may (when allowed).
    let requestShutdown: @Sendable () -> Void
}

/// One client connection once authenticated: its frames in, its frames out.
struct SessionChannel {
    let id: UInt64
    let peer: String
    var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var logger: Logger
}
