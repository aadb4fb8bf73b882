// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "TaskMaster",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "task-master", targets: ["TaskMasterDaemon"]),
        .executable(name: "task-worker", targets: ["TaskWorkerCommand"]),
        .executable(name: "task-ctl", targets: ["TaskControlCommand"]),
        .library(name: "TaskMasterClient", targets: ["TaskMasterClient"]),
        .library(name: "TaskWorkerRuntime", targets: ["TaskWorkerRuntime"]),
        // The worker of docs/WORKERS.md, built and run by the tests.
        .executable(name: "word-count-worker", targets: ["WordCountWorker"]),
        .library(name: "TaskWire", targets: ["TaskWire"]),
        .library(name: "ManagerWire", targets: ["ManagerWire"]),
        .library(name: "Pickle", targets: ["Pickle"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/attaswift/BigInt.git", from: "6.0.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // The master's status: queue and client counters, one model and one JSON schema for the
        // wire, the admin endpoint, the metrics and task-ctl.
        .target(name: "TaskMasterStatus"),
        // Wire protocol: framing, mutual HMAC handshake, native message codec. Sans-IO.
        .target(
            name: "TaskWire",
            dependencies: [
                "TaskMasterStatus",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Data-only pickle reader/writer. Never executes anything.
        .target(
            name: "Pickle",
            dependencies: [.product(name: "BigInt", package: "BigInt")]
        ),
        // Python multiprocessing.managers request/reply envelopes on top of Pickle. Sans-IO.
        .target(
            name: "ManagerWire",
            dependencies: ["Pickle"]
        ),
        // The seam every queue backend plugs into: the QueueBackend protocol, its guarantees,
        // and the values it takes and gives. No networking.
        .target(
            name: "QueueBackend",
            dependencies: ["TaskMasterStatus", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // Queues in this process's memory: waiting getters and putters, leases, dead letters,
        // and a journal of changes for a store.
        .target(
            name: "MemoryBackend",
            dependencies: [
                "QueueBackend", "TaskMasterStatus",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Durable queues: the memory backend's journal kept in SQLite (WAL), written with group
        // commit.
        .target(
            name: "SQLiteStore",
            dependencies: [
                "MemoryBackend", "QueueBackend", "TaskMasterConfiguration",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, for the hot write path (see BatchStatements.swift).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Queues in PostgreSQL, shared by any number of masters: group commit per queue, LISTEN
        // for waiting gets, the primary found among several hosts, versioned migrations.
        .target(
            name: "PostgresBackend",
            dependencies: [
                "QueueBackend", "TaskMasterStatus",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The admin HTTP endpoint: Prometheus metrics, the status page, /api/stats.
        .target(
            name: "TaskMasterAdmin",
            dependencies: [
                "TaskMasterStatus",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Configuration structs with defaults, filled from file, environment and flags.
        .target(
            name: "TaskMasterConfiguration",
            dependencies: ["TaskMasterStatus", .product(name: "Logging", package: "swift-log")]
        ),
        // Log output for the executables: swift-log's stream format, or JSON lines.
        .target(
            name: "TaskMasterLogging",
            dependencies: ["TaskMasterConfiguration", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "TaskMasterServer",
            dependencies: [
                "TaskWire", "ManagerWire", "Pickle", "QueueBackend", "MemoryBackend", "SQLiteStore",
                "PostgresBackend", "TaskMasterConfiguration",
                "TaskMasterAdmin", "TaskMasterStatus",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TaskMasterClient",
            dependencies: [
                "TaskWire", "ManagerWire", "Pickle", "TaskMasterStatus",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The worker runtime: runs any job (task payload in, result payload out) for a master:
        // connecting, failing over between masters, lanes, heartbeats, graceful stop, flags.
        .target(
            name: "TaskWorkerRuntime",
            dependencies: [
                "TaskMasterClient", "TaskWire", "Pickle", "ManagerWire", "TaskMasterConfiguration", "TaskMasterLogging",
                "TaskMasterStatus",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The squaring job on the worker runtime: exact squares, result lines, the batch runner.
        .target(
            name: "SquaringJobs",
            dependencies: [
                "TaskWorkerRuntime", "TaskMasterClient", "TaskWire", "Pickle", "TaskMasterStatus",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "BigInt", package: "BigInt"),
            ]
        ),
        // docs/WORKERS.md's example: a worker for a job of one's own, in a dozen lines.
        .executableTarget(
            name: "WordCountWorker",
            dependencies: [
                "TaskWorkerRuntime", "Pickle",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/WordCountWorker"
        ),
        .executableTarget(
            name: "TaskMasterDaemon",
            dependencies: [
                "TaskMasterServer", "TaskMasterConfiguration", "TaskMasterLogging",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "TaskWorkerCommand",
            dependencies: [
                "SquaringJobs", "TaskWorkerRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "TaskControlCommand",
            dependencies: [
                "SquaringJobs", "TaskWorkerRuntime", "TaskMasterClient", "TaskMasterConfiguration", "Pickle",
                "TaskWire", "TaskMasterStatus",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "BigInt", package: "BigInt"),
            ]
        ),
        // Shared test helpers: finding binaries and Pythons, running processes with bounded waits.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(
            name: "TaskWireTests",
            dependencies: [
                "TaskWire", "TaskMasterStatus", "TestSupport", .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "PickleTests", dependencies: ["Pickle", "TestSupport"]),
        .testTarget(name: "ManagerWireTests", dependencies: ["ManagerWire", "Pickle", "TestSupport"]),
        .testTarget(
            name: "MemoryBackendTests",
            dependencies: [
                "MemoryBackend", "QueueBackend", "TaskMasterStatus", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // One suite of queue semantics every backend must pass, run against each of them.
        .testTarget(
            name: "QueueBackendConformanceTests",
            dependencies: [
                "QueueBackend", "MemoryBackend", "SQLiteStore", "PostgresBackend", "TaskMasterConfiguration",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "PostgresBackendTests",
            dependencies: [
                "PostgresBackend", "QueueBackend", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SQLiteStoreTests",
            dependencies: [
                "SQLiteStore", "MemoryBackend", "QueueBackend", "TaskMasterConfiguration", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "TaskMasterServerTests",
            dependencies: [
                "TaskMasterServer", "TestSupport", "ManagerWire", "Pickle", "QueueBackend", "MemoryBackend",
                "TaskMasterConfiguration", "TaskMasterStatus", "TaskWire", "TaskMasterClient", "SQLiteStore",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "TaskMasterConfigurationTests",
            dependencies: ["TaskMasterConfiguration", "TaskMasterStatus"]
        ),
        .testTarget(name: "TaskMasterLoggingTests", dependencies: ["TaskMasterLogging"]),
        .testTarget(
            name: "SquaringJobsTests",
            dependencies: ["SquaringJobs", "TaskWorkerRuntime", "Pickle", "TaskWire"]
        ),
        .testTarget(
            name: "TaskWorkerRuntimeTests",
            dependencies: ["TaskWorkerRuntime", "TaskMasterClient", "TaskMasterConfiguration", "Pickle"]
        ),
        .testTarget(
            name: "TaskMasterAdminTests",
            dependencies: [
                "TaskMasterAdmin", "TaskMasterStatus", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "TestSupport", "TaskMasterClient", "TaskWire", "Pickle", "SquaringJobs", "TaskMasterStatus",
                "TaskMasterConfiguration", "TaskWorkerRuntime",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "BigInt", package: "BigInt"),
            ]
        ),
    ]
)
