import Foundation
import Synchronization

/// PostgreSQL's server binaries: `$TASKMASTER_PG_BIN` if set, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian's `postgresql` package; `scripts/setup-system` installs it).
public struct PostgresInstallation: Sendable {
    public let binDirectory: URL

    /// The installation found on this machine, or nil.
    public static let found: PostgresInstallation? = {
        let files = FileManager.default
        if let directory = ProcessInfo.processInfo.environment["TASKMASTER_PG_BIN"], !directory.isEmpty {
            guard files.isExecutableFile(atPath: "\(directory)/initdb") else { return nil }
            return PostgresInstallation(binDirectory: URL(fileURLWithPath: directory))
        }
        let root = "/usr/lib/postgresql"
        let newest = ((try? files.contentsOfDirectory(atPath: root)) ?? [])
            .filter { files.isExecutableFile(atPath: "\(root)/\($0)/bin/initdb") }
            .max { (Double($0) ?? 0) < (Double($1) ?? 0) }
        return newest.map { PostgresInstallation(binDirectory: URL(fileURLWithPath: "\(root)/\($0)/bin")) }
    }()

    public func tool(_ name: String) -> URL { binDirectory.appendingPathComponent(name) }
}

/// A throwaway PostgreSQL cluster for a test: `initdb` in a temporary directory, listening on
/// 127.0.0.1 only (no Unix socket) on a free port, `fsync` and `synchronous_commit` on, trust
/// authentication for the `postgres` role, one database made for the test. Run as the
/// `postgres` OS user (`runuser`) when we are root, since PostgreSQL refuses root.
///
///     try await PostgresCluster.with { primary in
///         let standby = try await primary.makeSynchronousStandby(name: "standby1")
///         try await primary.psql("CREATE TABLE t (id int PRIMARY KEY)")
///         try await primary.kill9()
///         try await standby.promote()
///         let rows = try await standby.psql("SELECT id FROM t")  // [["1"], …]
///     }  // stops the primary and its standbys, also when the body throws
///
/// Every wait is bounded (30 s) and fails with the server's log tail. `with` always stops the
/// cluster and the standbys made from it; a cluster started with `start` is stopped by
/// `stop()`, and killed (SIGKILL) when its last reference goes, or at exit, if still running.
public final class PostgresCluster: Sendable {
    /// A short name for messages; also a standby's replication slot and `application_name`.
    public let name: String
    /// The database made for the test (what `psql` uses unless told otherwise).
    public let database: String
    /// The temporary directory holding `data/`; removed when the cluster object goes.
    public let directory: URL
    public var dataDirectory: URL { directory.appendingPathComponent("data") }
    /// The loopback port it listens on.
    public var port: Int { state.withLock { $0.port } }
    /// A libpq URL for the test's database, e.g. for `PGQUEUER`-style tools or a client library.
    public var url: String { "postgresql://postgres@127.0.0.1:\(port)/\(database)" }

    private let installation: PostgresInstallation
    private let state: Mutex<State>
    private static let limit: Duration = .seconds(30)

    private struct State {
        var port: Int
        /// The running server: `postgres`, or `runuser` holding it (which reaps it at once).
        var server: ManagedProcess?
        var postmasterPID: Int32?
        /// Log lines of servers that have ended (a restarted cluster keeps its history).
        var pastLog: [String] = []
        var standbys: [PostgresCluster] = []
        /// Processes of a killed postmaster: dead, but zombies until process 1 reaps them.
        var orphans: [Int32] = []
    }

    private init(name: String, database: String, installation: PostgresInstallation) throws {
        self.name = name
        self.database = database
        self.installation = installation
        self.directory = try Self.makeDirectory(name: name)
        self.state = Mutex(State(port: try freeLoopbackPort()))
    }

    deinit {
        let (pid, server) = state.withLock { ($0.postmasterPID, $0.server) }
        if let pid, let server, server.isRunning {
            Self.killTree(pid, parent: server.processIdentifier)
            Self.live.withLock { _ = $0.removeValue(forKey: pid) }
        }
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Starting and stopping

    /// Starts a cluster, runs `body` with it, and stops it and every standby made from it,
    /// whether `body` returns or throws.
    public static func with<T>(
        name: String = "primary",
        database: String = "taskmaster",
        settings: [String: String] = [:],
        _ body: (PostgresCluster) async throws -> T
    ) async throws -> T {
        let cluster = try await start(name: name, database: database, settings: settings)
        let result: T
        do {
            result = try await body(cluster)
        } catch {
            try? await cluster.stopWithStandbys()
            throw error
        }
        try await cluster.stopWithStandbys()
        return result
    }

    /// Starts a new cluster (`initdb`, then the server) and makes `database` in it. `settings`
    /// are added to its `postgresql.conf`. Call `stop()` when done, or use `with`.
    public static func start(
        name: String = "primary",
        database: String = "taskmaster",
        settings: [String: String] = [:]
    ) async throws -> PostgresCluster {
        guard let installation = PostgresInstallation.found else {
            throw TestFailure(
                "PostgreSQL's server binaries not found ($TASKMASTER_PG_BIN, /usr/lib/postgresql/*/bin/initdb):"
                    + " install Debian's postgresql package (scripts/setup-system does, as root)"
            )
        }
        let cluster = try PostgresCluster(name: name, database: database, installation: installation)
        try await cluster.runTool(
            "initdb",
            [
                "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8",
                // The server's own writes are fsynced; initdb's need not be for a throwaway cluster.
                "--no-sync", "-D", cluster.dataDirectory.path,
            ]
        )
        var conf: [(String, String)] = [
            ("listen_addresses", "'127.0.0.1'"), ("unix_socket_directories", "''"),
            ("fsync", "on"), ("synchronous_commit", "on"),
            ("wal_level", "replica"), ("max_wal_senders", "10"), ("max_replication_slots", "10"),
            ("hot_standby", "on"),
        ]
        conf += settings.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        try cluster.appendToFile(
            "postgresql.conf",
            "\n# TaskMaster test cluster\n" + conf.map { "\($0) = \($1)\n" }.joined()
        )
        try await cluster.launch()
        try await cluster.psql("CREATE DATABASE \"\(database)\"", database: "postgres")
        return cluster
    }

    /// Starts the server again on the same data directory and port, after `stop()` or
    /// `kill9()` (after a kill it runs crash recovery first).
    public func restart() async throws {
        guard !isRunning else { throw failure("restart: \(name) is running") }
        try await launch()
    }

    /// Whether its server runs.
    public var isRunning: Bool { state.withLock { $0.server?.isRunning ?? false } }

    /// Stops the server (fast shutdown: open transactions are rolled back, clients
    /// disconnected) and waits until the postmaster is gone, and the processes of a postmaster
    /// killed earlier are reaped (`pgrep postgres` finds nothing of this cluster after it).
    public func stop() async throws {
        let orphans = state.withLock { $0.orphans }
        if !orphans.isEmpty {
            try await waitFor("the processes of \(name)'s killed postmaster to be reaped") {
                orphans.allSatisfy { Self.state(of: $0) == nil }
            }
            state.withLock { $0.orphans.removeAll { orphans.contains($0) } }
        }
        guard let (server, pid) = runningServer() else { return }
        kill(pid, SIGINT)
        guard await server.waitForExit(within: Self.limit) != nil else {
            Self.killTree(pid, parent: server.processIdentifier)
            _ = await server.waitForExit(within: .seconds(5))
            ended(server, pid)
            throw failure("\(name) did not stop within \(Self.limit) of a fast shutdown; killed it")
        }
        ended(server, pid)
        try await waitUntilReaped(pid, children: [])
    }

    /// Kills the postmaster and all its processes with SIGKILL at once, as a crash of its
    /// machine would, and waits until the postmaster is reaped (so that `restart()` works)
    /// and its other processes are dead (`stop()` waits until process 1 has reaped them,
    /// which takes it a second or two here).
    public func kill9() async throws {
        guard let (server, pid) = runningServer() else { throw failure("kill9: \(name) is not running") }
        let children = Self.killTree(pid, parent: server.processIdentifier)
        // runuser stops itself when its child stops, and waits for a SIGCONT before it reaps it.
        let deadline = ContinuousClock.now.advanced(by: Self.limit)
        while server.isRunning, ContinuousClock.now < deadline {
            kill(server.processIdentifier, SIGCONT)
            try? await Task.sleep(for: .milliseconds(10))
        }
        ended(server, pid)
        state.withLock { $0.orphans += children }
        try await waitUntilReaped(pid, children: children)
    }

    /// Promotes a standby to primary and waits until it accepts writes.
    public func promote() async throws {
        let promoted = try await value("SELECT pg_promote(wait => true, wait_seconds => 30)", database: "postgres")
        guard promoted == "t" else { throw failure("pg_promote on \(name) returned \(promoted ?? "nothing")") }
        try await waitFor("\(name) to leave recovery after promotion") {
            try await self.value("SELECT pg_is_in_recovery()", database: "postgres") == "f"
        }
    }

    /// Makes a synchronous standby of this cluster: `pg_basebackup` with a replication slot
    /// named `name`, started with `application_name=name`, then this cluster's
    /// `synchronous_standby_names` set to it (the newest standby is the synchronous one), and
    /// waits until `pg_stat_replication` reports it `sync`. It is stopped with this cluster
    /// by `with` (or stop it yourself).
    public func makeSynchronousStandby(name: String = "standby") async throws -> PostgresCluster {
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") })
        else { throw TestFailure("a standby's name is a slot name: lower-case letters, digits and _ (\(name))") }
        let standby = try PostgresCluster(name: name, database: database, installation: installation)
        state.withLock { $0.standbys.append(standby) }
        try await standby.runTool(
            "pg_basebackup",
            [
                "-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-D", standby.dataDirectory.path,
                "-R", "-X", "stream", "-C", "-S", name, "-c", "fast", "--no-sync",
            ]
        )
        // The copy has the primary's postgresql.auto.conf: a promoted standby that kept its
        // synchronous_standby_names would wait for a standby that doesn't exist on every commit.
        let autoConf = standby.dataDirectory.appendingPathComponent("postgresql.auto.conf")
        let kept = try String(contentsOf: autoConf, encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("synchronous_standby_names") && !$0.hasPrefix("primary_conninfo") }
        try standby.writeFile(
            "postgresql.auto.conf",
            (kept + ["primary_conninfo = 'host=127.0.0.1 port=\(port) user=postgres application_name=\(name)'"])
                .joined(separator: "\n") + "\n"
        )
        try await standby.launch()
        try await psql(
            "ALTER SYSTEM SET synchronous_standby_names = '\"\(name)\"';\nSELECT pg_reload_conf();",
            database: "postgres"
        )
        try await waitFor("\(name) to be a synchronous standby of \(self.name)", also: standby) {
            try await self.value(
                "SELECT sync_state FROM pg_stat_replication WHERE application_name = '\(name)'",
                database: "postgres"
            ) == "sync"
        }
        return standby
    }

    // MARK: SQL

    /// Runs `sql` (one or more statements, each in its own transaction unless it says
    /// otherwise) with `psql -X -A -t -q -v ON_ERROR_STOP=1` and returns the rows of every
    /// result, each as its fields' text (NULL is ""). Fields with a newline would be split into
    /// several rows: select `encode(…, 'hex')` for such values. Throws with psql's error.
    @discardableResult
    public func psql(
        _ sql: String,
        database: String? = nil,
        within limit: Duration = .seconds(30)
    )
        async throws -> [[String]]
    {
        let process = try ManagedProcess(
            installation.tool("psql"),
            [
                "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-F", "\u{1f}",
                "-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-d", database ?? self.database, "-f", "-",
            ],
            environment: ["PGCONNECT_TIMEOUT": "10"],
            unset: Self.clientVariables,
            name: "psql",
            stdin: Data(sql.utf8)
        )
        guard let status = await process.waitForExit(within: limit) else {
            process.kill9()
            throw failure("psql on \(name) did not finish within \(limit)\n\(process.transcript)\n--- SQL:\n\(sql)")
        }
        guard status == 0 else {
            throw failure(
                "psql on \(name) failed (exit \(status)):\n\(process.stderrLines.joined(separator: "\n"))\n--- SQL:\n\(sql)"
            )
        }
        return process.stdoutLines.map {
            $0.split(separator: "\u{1f}", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// The first field of the first row `sql` returns, or nil when it returns none.
    public func value(_ sql: String, database: String? = nil) async throws -> String? {
        try await psql(sql, database: database).first?.first
    }

    /// The last `count` lines the server logged.
    public func logTail(_ count: Int = 30) -> String {
        let lines = state.withLock { $0.pastLog + ($0.server?.stderrLines ?? []) }
        return lines.suffix(count).joined(separator: "\n")
    }

    // MARK: Internals

    /// Environment variables that would steer libpq tools elsewhere.
    private static let clientVariables = [
        "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGSERVICE", "PGOPTIONS", "PGDATA",
        "PGSSLMODE", "PGAPPNAME",
    ]

    private static let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Postmasters still running (and the process that started each), killed at exit if a
    /// test left one behind.
    private static let live = Mutex<[Int32: Int32]>([:])
    private static let killLeftoversAtExit: Void = {
        atexit {
            for (pid, parent) in PostgresCluster.live.withLock({ $0 }) { PostgresCluster.killTree(pid, parent: parent) }
        }
    }()

    private func failure(_ message: String, also other: PostgresCluster? = nil) -> TestFailure {
        var text = "\(message)\n--- log of \(name) (port \(port)), last lines:\n\(logTail())"
        if let other { text += "\n--- log of \(other.name) (port \(other.port)), last lines:\n\(other.logTail())" }
        return TestFailure(text)
    }

    /// Runs one of PostgreSQL's tools (as the postgres user when we are root) to completion.
    private func runTool(_ tool: String, _ arguments: [String]) async throws {
        let (executable, fullArguments) = try asPostgres(installation.tool(tool), arguments)
        let process = try ManagedProcess(executable, fullArguments, unset: Self.clientVariables, name: tool)
        guard let status = await process.waitForExit(within: Self.limit) else {
            process.kill9()
            throw failure("\(tool) for \(name) did not finish within \(Self.limit)\n\(process.transcript)")
        }
        guard status == 0 else { throw failure("\(tool) for \(name) failed (exit \(status))\n\(process.transcript)") }
    }

    private func asPostgres(_ tool: URL, _ arguments: [String]) throws -> (URL, [String]) {
        guard geteuid() == 0 else { return (tool, arguments) }
        guard let runuser = Self.runuser else {
            throw TestFailure("running as root, and no runuser to drop to postgres")
        }
        return (URL(fileURLWithPath: runuser), ["-u", "postgres", "--", tool.path] + arguments)
    }

    /// Starts the postmaster on the data directory and waits until it accepts connections
    /// (as a primary or a hot standby). Picks another port if its port was taken meanwhile.
    private func launch() async throws {
        _ = Self.killLeftoversAtExit
        for attempt in 1...3 {
            let (executable, arguments) = try asPostgres(
                installation.tool("postgres"),
                ["-D", dataDirectory.path, "-p", "\(port)"]
            )
            let server = try ManagedProcess(
                executable,
                arguments,
                unset: Self.clientVariables,
                name: "postgres \(name)"
            )
            state.withLock { $0.server = server }
            let deadline = ContinuousClock.now.advanced(by: Self.limit)
            while true {
                if !server.isRunning {
                    _ = await server.waitForExit(within: .seconds(1))
                    let log = server.stderrLines.joined(separator: "\n")
                    ended(server, nil)
                    if attempt < 3, log.contains("could not bind") || log.contains("could not create any TCP/IP") {
                        let port = try freeLoopbackPort()
                        state.withLock { $0.port = port }
                        break
                    }
                    throw failure("postgres for \(name) exited while starting")
                }
                if let pid = postmasterPID(of: server) {
                    state.withLock { $0.postmasterPID = pid }
                    Self.live.withLock { $0[pid] = server.processIdentifier }
                    return
                }
                guard ContinuousClock.now < deadline else {
                    server.kill9()
                    _ = await server.waitForExit(within: .seconds(5))
                    ended(server, nil)
                    throw failure("postgres for \(name) did not accept connections within \(Self.limit)")
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// The postmaster's PID once `postmaster.pid` says it is `ready` or `standby` and names
    /// this server (not a stale file from a killed one).
    private func postmasterPID(of server: ManagedProcess) -> Int32? {
        let pidFile = dataDirectory.appendingPathComponent("postmaster.pid")
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 8, let pid = Int32(lines[0].trimmingCharacters(in: .whitespaces)),
            ["ready", "standby"].contains(lines[7].trimmingCharacters(in: .whitespaces)),
            pid == server.processIdentifier || Self.parent(of: pid) == server.processIdentifier
        else { return nil }
        return pid
    }

    private func runningServer() -> (ManagedProcess, Int32)? {
        state.withLock {
            guard let server = $0.server, server.isRunning, let pid = $0.postmasterPID else { return nil }
            return (server, pid)
        }
    }

    /// Forgets an ended server, keeping its log.
    private func ended(_ server: ManagedProcess, _ pid: Int32?) {
        state.withLock {
            $0.pastLog += server.stderrLines
            $0.server = nil
            $0.postmasterPID = nil
        }
        if let pid { Self.live.withLock { _ = $0.removeValue(forKey: pid) } }
    }

    /// Waits until `pid` is gone from the process table (reaped: PostgreSQL refuses to start
    /// on a data directory whose `postmaster.pid` names a live or zombie process) and every
    /// one of `children` is dead (gone or a zombie: those hold nothing).
    private func waitUntilReaped(_ pid: Int32, children: [Int32]) async throws {
        try await waitFor("the postmaster of \(name) (pid \(pid)) and its processes to be gone") {
            Self.state(of: pid) == nil && children.allSatisfy { Self.state(of: $0).map { $0 == "Z" } ?? true }
        }
    }

    private func waitFor(
        _ what: String,
        also other: PostgresCluster? = nil,
        _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now.advanced(by: Self.limit)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw failure("waited \(Self.limit) for \(what)", also: other) }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Stops this cluster and its standbys, in a task of its own so that a cancelled test
    /// still waits for them.
    private func stopWithStandbys() async throws {
        try await Task {
            var firstError: (any Error)?
            for cluster in [self] + self.state.withLock({ $0.standbys }) {
                do { try await cluster.stop() } catch { firstError = firstError ?? error }
            }
            if let firstError { throw firstError }
        }.value
    }

    private func appendToFile(_ file: String, _ text: String) throws {
        let handle = try FileHandle(forWritingTo: dataDirectory.appendingPathComponent(file))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
    }

    private func writeFile(_ file: String, _ text: String) throws {
        let path = dataDirectory.appendingPathComponent(file).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try Self.giveToPostgres(path)
    }

    /// A fresh directory the postgres user owns, under one it can traverse (/tmp when root).
    private static func makeDirectory(name: String) throws -> URL {
        let base = geteuid() == 0 ? "/tmp" : FileManager.default.temporaryDirectory.path
        var template = Array("\(base)/taskmaster-pg-\(name)-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { buffer in
            mkdtemp(buffer.baseAddress!).map { String(cString: $0) }
        }
        guard let path else { throw TestFailure("mkdtemp under \(base) failed (errno \(errno))") }
        try giveToPostgres(path)
        return URL(fileURLWithPath: path)
    }

    private static func giveToPostgres(_ path: String) throws {
        guard geteuid() == 0 else { return }
        guard let user = getpwnam("postgres") else {
            throw TestFailure("running as root and there is no postgres OS user (scripts/setup-system makes one)")
        }
        guard chown(path, user.pointee.pw_uid, user.pointee.pw_gid) == 0 else {
            throw TestFailure("chown \(path) to postgres failed (errno \(errno))")
        }
    }

    // MARK: Processes

    /// SIGKILLs the postmaster `pid` and its children at once; returns the children. `parent`
    /// (the process that started it: runuser, or the postmaster itself) is sent a SIGCONT, as
    /// runuser stops itself when its child is stopped.
    @discardableResult
    private static func killTree(_ pid: Int32, parent: Int32) -> [Int32] {
        kill(pid, SIGSTOP)  // no new children while we list them
        let children = childProcesses(of: pid)
        kill(pid, SIGKILL)
        for child in children { kill(child, SIGKILL) }
        if parent != pid { kill(parent, SIGCONT) }
        return children
    }

    private static func childProcesses(of pid: Int32) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [])
            .compactMap { Int32($0) }
            .filter { parent(of: $0) == pid }
    }

    /// Fields after the command name in `/proc/PID/stat` (state, ppid, …), or nil if gone.
    private static func statFields(_ pid: Int32) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
    }

    private static func parent(of pid: Int32) -> Int32? {
        statFields(pid).flatMap { $0.count > 1 ? Int32($0[1]) : nil }
    }

    /// The process's state letter (`R`, `S`, `Z`, …), or nil once it is reaped.
    private static func state(of pid: Int32) -> String? {
        statFields(pid)?.first.map(String.init)
    }
}
