import NIOSSL
import TaskMasterConfiguration

/// The master's TLS context, when the configuration names a certificate and key.
enum ServerTLS {
    static func makeContext(_ configuration: MasterConfiguration) throws -> NIOSSLContext? {
        guard let certificatePath = configuration.tlsCertificate, let keyPath = configuration.tlsKey else {
            return nil
        }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map {
                NIOSSLCertificateSource.certificate($0)
            }
            let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            tls.minimumTLSVersion = .tlsv12
            if let caPath = configuration.tlsClientCA {
                // Mutual TLS: only clients with a certificate from this CA get as far as the handshake.
                tls.trustRoots = .file(caPath)
                tls.certificateVerification = .noHostnameVerification
            }
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw ServerError(
                .tlsFailed,
                "can't set up TLS from \(certificatePath) and \(keyPath): \(error) (they must be PEM files that match)"
            )
        }
    }
}
