import NIOCore
import NIOSSL

/// TLS towards a master that has it on: whom to trust, and an optional client certificate.
public struct ClientTLS: Sendable, Hashable {
    /// PEM CA bundle the master's certificate must chain to.
    public var caPath: String
    /// PEM client certificate chain and key, for a master that requires them.
    public var certificatePath: String?
    public var keyPath: String?
    /// The name the master's certificate must carry; nil uses the host connected to. When
    /// that host is an IP address the certificate's chain is checked but not its name.
    public var serverName: String?

    public init(caPath: String, certificatePath: String? = nil, keyPath: String? = nil, serverName: String? = nil) {
        self.caPath = caPath
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.serverName = serverName
    }

    /// The handler for a connection to `host`.
    func makeHandler(host: String) throws -> NIOSSLClientHandler {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.trustRoots = .file(caPath)
        if let certificatePath, let keyPath {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem))
        }
        let name = serverName ?? host
        let isAddress = (try? SocketAddress(ipAddress: name, port: 0)) != nil
        if isAddress {
            // SNI can't carry an IP address, and a name can't be checked against nothing.
            configuration.certificateVerification = .noHostnameVerification
        }
        let context = try NIOSSLContext(configuration: configuration)
        return try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : name)
    }
}
