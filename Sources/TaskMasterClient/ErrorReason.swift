import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Short words for what went wrong under a connection (`connection refused`, `timed out`,
/// `host not found`, …), for messages a person reads: never a dump of NIO's error types.
enum ErrorReason {
    /// Why a TCP connect (with its DNS lookup and TLS set-up) failed.
    static func connect(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            // One failure per address tried: the most telling one speaks for all.
            let reasons = error.connectionErrors.map { connect($0.error) }
            if let refused = reasons.first(where: { $0 == "connection refused" }) { return refused }
            if let first = reasons.first { return first }
            if error.dnsAError != nil || error.dnsAAAAError != nil { return "host not found" }
            return "no address to connect to"
        case is SocketAddressError.UnknownHost:
            return "host not found"
        case let error as SocketAddressError:
            if case .unknown = error { return "host not found" }
            return "not a usable address"
        case let error as ChannelError:
            if case .connectTimeout = error { return "timed out" }
            return transport(error)
        default:
            return transport(error)
        }
    }

    /// Why an established connection failed (or its TLS or framing did).
    static func transport(_ error: any Error) -> String {
        switch error {
        case let error as IOError:
            return errno(error.errnoCode)
        case let error as ChannelError:
            switch error {
            case .connectTimeout: return "timed out"
            case .ioOnClosedChannel, .alreadyClosed, .outputClosed, .inputClosed, .eof: return "connection closed"
            default: return "connection failed"
            }
        case let error as NIOSSLError:
            return tls(error)
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            return "TLS: the master's certificate is not for this host name (set --tls-server-name)"
        case let error as BoringSSLError:
            return "TLS failed (\(tlsCodes(error)))"
        default:
            return oneLine("\(error)")
        }
    }

    /// The errno of a failed socket call, in words.
    static func errno(_ code: Int32) -> String {
        switch code {
        case ECONNREFUSED: return "connection refused"
        case ETIMEDOUT: return "timed out"
        case ENETUNREACH: return "network unreachable"
        case EHOSTUNREACH: return "host unreachable"
        case ECONNRESET: return "connection reset"
        case EPIPE: return "connection closed"
        case EADDRNOTAVAIL: return "address not available"
        case EACCES, EPERM: return "not permitted (a firewall?)"
        default: return oneLine(String(cString: strerror(code))).lowercased()
        }
    }

    private static func tls(_ error: NIOSSLError) -> String {
        switch error {
        case .handshakeFailed(let boring): return "TLS handshake failed (\(tlsCodes(boring)))"
        case .failedToLoadCertificate: return "can't load the TLS certificate (check --tls-ca and --tls-cert)"
        case .failedToLoadPrivateKey: return "can't load the TLS key (check --tls-key)"
        case .noSuchFilesystemObject: return "a TLS file does not exist (check --tls-ca, --tls-cert, --tls-key)"
        case .uncleanShutdown: return "connection closed without a TLS close"
        case .unableToValidateCertificate, .noCertificateToValidate:
            return "TLS: the master's certificate could not be checked"
        default: return "TLS failed"
        }
    }

    /// BoringSSL's reason codes, e.g. `CERTIFICATE_VERIFY_FAILED` as `certificate verify failed`.
    private static func tlsCodes(_ error: BoringSSLError) -> String {
        let text = "\(error)"
        var codes: [String] = []
        for word in text.split(whereSeparator: { !($0.isUppercase || $0 == "_" || $0.isNumber) }) {
            let code = String(word.map { $0 == "_" ? " " : $0 }).lowercased()
            if word.count >= 6, word.contains("_"), !word.hasPrefix("OPENSSL"), !codes.contains(code) {
                codes.append(code)
            }
        }
        return codes.isEmpty ? "no reason given" : codes.joined(separator: ", ")
    }

    /// `text` on one line, at most 200 characters.
    static func oneLine(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline)
            .map { String($0.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()) }
            .joined(separator: " ")
        return line.count > 200 ? String(line.prefix(199)) + "…" : line
    }
}
