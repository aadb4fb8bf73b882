import TaskMasterClient
import TaskMasterConfiguration

extension TaskMasterConnection.Options {
    /// Connection options as the settings give them (frame limit, timeouts, TLS).
    public init(_ settings: ConnectionSettings) {
        self.init()
        maxFrameBytes = settings.maxFrameBytes
        handshakeTimeout = settings.handshakeTimeout
        if let ca = settings.tlsCA {
            tls = ClientTLS(
                caPath: ca,
                certificatePath: settings.tlsCertificate,
                keyPath: settings.tlsKey,
                serverName: settings.tlsServerName
            )
        }
    }
}
