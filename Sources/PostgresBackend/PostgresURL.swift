import Foundation

/// Where the queues live: a `postgres://` URL naming one or more hosts (the master writes to
/// whichever accepts writes), the role, the database, and options.
///
///     postgres://taskmaster@db1:5432,db2:5432/tasks?sslmode=require&schema=taskmaster
///
/// Options (query parameters): `sslmode` (`disable`, the default; `require`: TLS without checking
/// the certificate; `verify-full`: TLS, certificate checked against the system's roots or
/// `sslrootcert`), `sslrootcert` (a PEM CA bundle), `schema` (where the tables go; default
/// `taskmaster`), `connect_timeout` (seconds per connection attempt; default 5),
/// `application_name`. A password in the URL is accepted but better kept out of it (see
/// ``PostgresPassword``); ``redacted`` is the form to log.
public struct PostgresURL: Sendable, Hashable, CustomStringConvertible {
    /// One host of the URL.
    public struct Host: Sendable, Hashable, CustomStringConvertible {
        public var name: String
        public var port: Int

        public init(name: String, port: Int) {
            self.name = name
            self.port = port
        }

        public var description: String { name.contains(":") ? "[\(name)]:\(port)" : "\(name):\(port)" }
    }

    /// How the connection is protected.
    public enum TLSMode: String, Sendable, Hashable {
        case disable
        case require
        case verifyFull = "verify-full"
    }

    public var hosts: [Host]
    public var user: String
    /// The password given in the URL itself, if any.
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// A PEM CA bundle for `verify-full`.
    public var rootCertificate: String?
    /// The schema holding the tables.
    public var schema: String
    public var connectTimeout: Duration
    public var applicationName: String

    /// The URL as it may be logged: the password, if any, replaced.
    public var redacted: String {
        var text = "postgres://\(Self.escape(user))"
        if password != nil { text += ":<redacted>" }
        text += "@" + hosts.map(\.description).joined(separator: ",") + "/" + Self.escape(database)
        var query: [String] = []
        if tls != .disable { query.append("sslmode=\(tls.rawValue)") }
        if let rootCertificate { query.append("sslrootcert=\(Self.escape(rootCertificate))") }
        if schema != Self.defaultSchema { query.append("schema=\(schema)") }
        return query.isEmpty ? text : text + "?" + query.joined(separator: "&")
    }

    public var description: String { redacted }

    public static let defaultSchema = "taskmaster"

    /// Reads a `postgres://` or `postgresql://` URL.
    public init(_ text: String) throws(PostgresBackendError) {
        func invalid(_ why: String) -> PostgresBackendError {
            PostgresBackendError(
                .invalidURL,
                "invalid backend URL: \(why) (expected postgres://USER@HOST[:PORT][,HOST2[:PORT]]/DATABASE)"
            )
        }
        var rest = Substring(text)
        if rest.hasPrefix("postgres://") {
            rest = rest.dropFirst("postgres://".count)
        } else if rest.hasPrefix("postgresql://") {
            rest = rest.dropFirst("postgresql://".count)
        } else {
            throw invalid("it must start with postgres://")
        }
        var query = Substring("")
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var path = Substring("")
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var userInfo: Substring?
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        var user = "postgres"
        var password: String?
        if let userInfo {
            let parts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.unescape(parts[0]) else { throw invalid("bad %-escape in the user name") }
            if !name.isEmpty { user = name }
            if parts.count == 2 {
                guard let secret = Self.unescape(parts[1]) else { throw invalid("bad %-escape in the password") }
                password = secret
            }
        }
        var hosts: [Host] = []
        for item in rest.split(separator: ",", omittingEmptySubsequences: false) {
            hosts.append(try Self.host(item, invalid: invalid))
        }
        guard !hosts.isEmpty, !rest.isEmpty else { throw invalid("no host") }
        guard let database = Self.unescape(path), !database.isEmpty else {
            throw invalid("no database name after the host")
        }
        self.hosts = hosts
        self.user = user
        self.password = password
        self.database = database
        self.tls = .disable
        self.rootCertificate = nil
        self.schema = Self.defaultSchema
        self.connectTimeout = .seconds(5)
        self.applicationName = "task-master"
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2, let value = Self.unescape(kv[1]) else { throw invalid("bad option \(pair)") }
            switch kv[0] {
            case "sslmode":
                switch value {
                case "disable", "allow", "prefer": tls = .disable
                case "require": tls = .require
                case "verify-full", "verify-ca": tls = .verifyFull
                default: throw invalid("sslmode must be disable, require or verify-full, not \(value)")
                }
            case "sslrootcert": rootCertificate = value
            case "schema":
                guard Self.isPlainName(value) else {
                    throw invalid("schema must be 1 to 50 lower-case letters, digits or _, starting with a letter")
                }
                schema = value
            case "connect_timeout":
                guard let seconds = Double(value), seconds > 0, seconds <= 600 else {
                    throw invalid("connect_timeout must be seconds between 0 and 600")
                }
                connectTimeout = .milliseconds(Int64(seconds * 1000))
            case "application_name": applicationName = value
            case "user": user = value
            case "password": password = value
            default:
                throw invalid(
                    "unknown option \(kv[0]) (known: sslmode, sslrootcert, schema, connect_timeout, application_name)"
                )
            }
        }
    }

    /// Whether `name` is safe as an unquoted identifier: `[a-z][a-z0-9_]{0,49}`.
    static func isPlainName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 50, ("a"..."z").contains(first) else {
            return false
        }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    private static func host(
        _ text: Substring,
        invalid: (String) -> PostgresBackendError
    ) throws(PostgresBackendError) -> Host {
        var name = text
        var port = 5432
        if name.hasPrefix("[") {
            guard let close = name.firstIndex(of: "]") else { throw invalid("unclosed [ in host \(text)") }
            let after = name[name.index(after: close)...]
            name = name[name.index(after: name.startIndex)..<close]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    throw invalid("bad port in \(text)")
                }
                port = p
            }
        } else if let colon = name.lastIndex(of: ":") {
            guard let p = Int(name[name.index(after: colon)...]), (1...65535).contains(p) else {
                throw invalid("bad port in \(text)")
            }
            port = p
            name = name[..<colon]
        }
        guard !name.isEmpty else { throw invalid("empty host name") }
        return Host(name: String(name), port: port)
    }

    private static func unescape(_ text: Substring) -> String? {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let scalar = Unicode.Scalar(byte)
            if scalar.properties.isAlphabetic && byte < 128 || ("0"..."9").contains(scalar)
                || "-._~".unicodeScalars.contains(scalar)
            {
                out.unicodeScalars.append(scalar)
            } else {
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}

/// Where the backend's password comes from, as libpq looks for it: the URL's own, then the
/// environment variable `PGPASSWORD`, then a password file in `.pgpass` form
/// (`host:port:database:user:password`, `*` for any field, `\:` and `\\` escaped).
public enum PostgresPassword {
    /// The password for `url`, or nil (trust or certificate authentication).
    /// - Parameter file: the password file (`--backend-password-file`), if given.
    public static func resolve(
        for url: PostgresURL,
        environment: [String: String],
        file: String?
    ) throws(PostgresBackendError) -> String? {
        if let password = url.password { return password }
        if let password = environment["PGPASSWORD"], !password.isEmpty { return password }
        guard let file else { return nil }
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw PostgresBackendError(.passwordFile, "can't read the backend password file \(file)")
        }
        for host in url.hosts {
            if let password = lookup(in: text, host: host, database: url.database, user: url.user) { return password }
        }
        throw PostgresBackendError(
            .passwordFile,
            "the backend password file \(file) has no line for user \(url.user) on database \(url.database) (host:port:database:user:password)"
        )
    }

    /// The password of the first line of `text` (`.pgpass` form) matching, or nil.
    static func lookup(in text: String, host: PostgresURL.Host, database: String, user: String) -> String? {
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = split(trimmed)
            guard fields.count == 5 else { continue }
            let wanted = [host.name, String(host.port), database, user]
            if zip(fields, wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// Splits a `.pgpass` line on unescaped colons, undoing `\:` and `\\`.
    private static func split(_ line: Substring) -> [String] {
        var fields: [String] = []
        var current = ""
        var escaped = false
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == ":" && fields.count < 4 {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields
    }
}
