/// A `host:port` address of a master.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port`, or a bare `host` (port `defaultPort`).
    public init?(parsing text: String, defaultPort: Int = 5000) {
        var host = Substring(text)
        var port = defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()) else { return nil }
                port = p
            }
        } else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
            guard let p = Int(host[host.index(after: colon)...]) else { return nil }
            port = p
            host = host[..<colon]
        }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace), (1...65535).contains(port) else { return nil }
        self.init(host: String(host), port: port)
    }

    /// Parses a list of addresses separated by commas, e.g. `10.0.0.5:5000,10.0.0.6:5000`
    /// (spaces around each are ignored), each as ``init(parsing:defaultPort:)`` reads it.
    ///
    /// - Returns: the addresses in order, or the first item that is not an address (`""` for
    ///   an empty item or an empty list).
    public static func list(parsing text: String, defaultPort: Int = 5000) -> Result<[Endpoint], InvalidItem> {
        var endpoints: [Endpoint] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = item.trimmingWhitespace()
            guard let endpoint = Endpoint(parsing: trimmed, defaultPort: defaultPort) else {
                return .failure(InvalidItem(text: trimmed))
            }
            endpoints.append(endpoint)
        }
        return .success(endpoints)
    }

    /// An item of an address list that is not an address.
    public struct InvalidItem: Error, Hashable, Sendable {
        /// The item as written (trimmed); empty for an empty item.
        public var text: String

        public init(text: String) { self.text = text }
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

extension Substring {
    func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
