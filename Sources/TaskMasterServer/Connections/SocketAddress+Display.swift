import NIOCore

extension SocketAddress {
    /// `1.2.3.4:5678` or `[::1]:5678`, for logs and stats.
    var displayString: String {
        switch self {
        case .v4:
            return "\(ipAddress ?? "?"):\(port ?? 0)"
        case .v6:
            return "[\(ipAddress ?? "?")]:\(port ?? 0)"
        case .unixDomainSocket:
            return pathname ?? "unix"
        }
    }
}
