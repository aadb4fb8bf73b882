import Foundation
import TaskMasterConfiguration
import TaskMasterStatus
import Testing

/// Flags over environment over file over defaults, and a clear error for every bad value.
@Suite struct SettingsPrecedenceTests {
    /// A config file in a fresh temporary directory.
    func file(_ json: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tm-config-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("master.json").path
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    let key = ["TASK_AUTHKEY": "k"]

    @Test func defaultsApplyWhenNothingIsGiven() throws {
        let (config, warnings) = try MasterConfiguration.load(flags: [:], environment: key, configFile: nil)
        #expect(config.host == "0.0.0.0" && config.port == 5000)
        #expect(config.maxFrameBytes == 16 << 20 && config.handshakeTimeout == .seconds(5))
        #expect(config.leaseTimeout == .seconds(60) && config.maxDeliveries == 5)
        #expect(config.syncPolicy == .batch && config.dataDirectory == nil)
        #expect(config.logLevel == .info && config.logFormat == .human)
        #expect(config.adminPort == nil && config.adminHost == "127.0.0.1")
        #expect(config.authKey.bytes == Array("k".utf8))
        #expect(config.threads == 1)
        #expect(warnings.isEmpty)
    }

    @Test func threadsComeFromTheFileTheEnvironmentOrAFlagAndMustBePositive() throws {
        let path = try file(#"{"threads": 3}"#)
        #expect(try MasterConfiguration.load(flags: [:], environment: key, configFile: path).0.threads == 3)
        var environment = key
        environment["TASK_MASTER_THREADS"] = "4"
        #expect(try MasterConfiguration.load(flags: [:], environment: environment, configFile: path).0.threads == 4)
        let flags = [MasterConfiguration.Keys.threads.key: "2"]
        #expect(try MasterConfiguration.load(flags: flags, environment: environment, configFile: path).0.threads == 2)
        environment["TASK_MASTER_THREADS"] = "0"
        let error = try #require(throws: ConfigurationError.self) {
            try MasterConfiguration.load(flags: [:], environment: environment, configFile: nil)
        }
        #expect(error.setting == "threads" && error.message.contains("TASK_MASTER_THREADS"), "\(error.message)")
    }

    @Test func aFlagBeatsTheEnvironmentWhichBeatsTheFile() throws {
        let path = try file(#"{"port": 7001, "lease_timeout": 10, "log_format": "json", "max_deliveries": 2}"#)
        var environment = key
        environment["TASK_MASTER_PORT"] = "7002"
        environment["TASK_MASTER_LEASE_TIMEOUT"] = "20"
        let (config, _) = try MasterConfiguration.load(
            flags: [MasterConfiguration.Keys.port.key: "7003"],
            environment: environment,
            configFile: path
        )
        #expect(config.port == 7003)  // flag
        #expect(config.leaseTimeout == .seconds(20))  // environment over file
        #expect(config.logFormat == .json && config.maxDeliveries == 2)  // file over default
    }

    @Test func aBadValueNamesTheSettingAndWhereItCameFrom() throws {
        var environment = key
        environment["TASK_MASTER_PORT"] = "99999"
        let error = try #require(throws: ConfigurationError.self) {
            try MasterConfiguration.load(flags: [:], environment: environment, configFile: nil)
        }
        #expect(error.code == .invalidValue && error.setting == "port")
        #expect(error.message.contains("99999") && error.message.contains("TASK_MASTER_PORT"), "\(error.message)")

        let format = try #require(throws: ConfigurationError.self) {
            try MasterConfiguration.load(
                flags: [MasterConfiguration.Keys.logFormat.key: "xml"],
                environment: key,
                configFile: nil
            )
        }
        #expect(format.setting == "log_format" && format.message.contains("one of human, json"), "\(format.message)")

        let sync = try #require(throws: ConfigurationError.self) {
            try MasterConfiguration.load(flags: [:], environment: key, configFile: try file(#"{"sync": "sometimes"}"#))
        }
        #expect(sync.setting == "sync" && sync.message.contains("always, batch, off"), "\(sync.message)")
    }

    @Test func aTypoInTheFileIsReportedWithTheKnownKeys() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try MasterConfiguration.load(flags: [:], environment: key, configFile: try file(#"{"prot": 5000}"#))
        }
        #expect(error.code == .unknownKey && error.setting == "prot")
        #expect(error.message.contains("known keys") && error.message.contains("port"))
    }

    @Test func withoutAnAuthkeyTheMasterIsToldHowToGiveOne() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try MasterConfiguration.load(flags: [:], environment: [:], configFile: nil)
        }
        #expect(error.code == .missing)
        #expect(error.message.contains("TASK_AUTHKEY") && error.message.contains("--authkey-file"))
    }

    @Test func anAuthkeyFileLosesItsNewlineAndAWorldReadableOneIsWarnedAbout() throws {
        let path = try file("s3cret\n")
        chmod(path, 0o644)
        let (config, warnings) = try MasterConfiguration.load(
            flags: [AuthKeySettings.file.key: path],
            environment: ["TASK_AUTHKEY": "ignored: the flag wins"],
            configFile: nil
        )
        #expect(config.authKey.bytes == Array("s3cret".utf8))
        #expect(warnings.contains { $0.contains("chmod 600") }, "\(warnings)")
        #expect("\(config.authKey)" == "<redacted>")
    }

    @Test func tlsNeedsBothCertificateAndKey() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try MasterConfiguration.load(
                flags: [MasterConfiguration.Keys.tlsCertificate.key: "/etc/master.crt"],
                environment: key,
                configFile: nil
            )
        }
        #expect(error.message.contains("--tls-key"))
    }

    @Test func theExampleFilesInConfigLoadAsDocumented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let (master, _) = try MasterConfiguration.load(
            flags: [:],
            environment: key,
            configFile: root.appendingPathComponent("Config/master.example.json").path
        )
        #expect(master.port == 5000 && master.dataDirectory == "/var/lib/taskmaster")
        #expect(master.queueMaxSizes == ["task": 100_000] && master.adminPort == 9100)
        #expect(master.pythonTypeIDs["get_jobs"] == "task" && master.idleTimeout == .seconds(300))
        let (worker, _) = try WorkerConfiguration.load(
            flags: [:],
            environment: key,
            configFile: root.appendingPathComponent("Config/worker.example.json").path
        )
        #expect(worker.connection.endpoint.description == "10.0.0.5:5000")
        #expect(worker.concurrency == 3 && worker.prefetch == 512 && worker.heartbeatInterval == .seconds(5))
    }

    @Test func workerSettingsFollowTheSameOrder() throws {
        var environment = key
        environment["TASK_WORKER_PREFETCH"] = "64"
        environment["TASK_MASTER_ADDRESS"] = "10.1.2.3:6000"
        let (config, _) = try WorkerConfiguration.load(
            flags: [WorkerConfiguration.Keys.concurrency.key: "8"],
            environment: environment,
            configFile: try file(#"{"prefetch": 32, "task_queue": "jobs", "log_format": "json"}"#)
        )
        #expect(config.concurrency == 8 && config.prefetch == 64 && config.taskQueue == "jobs")
        #expect(config.connection.endpoint.host == "10.1.2.3" && config.connection.endpoint.port == 6000)
        #expect(config.logFormat == .json)
    }

    @Test func enumsAreParsedOnceWithAnErrorNamingTheSettingAndItsSource() throws {
        for (variable, value, setting) in [
            ("TASK_MASTER_SYNC", "sometimes", "sync"), ("TASK_MASTER_LOG_LEVEL", "loud", "log_level"),
            ("TASK_MASTER_LOG_FORMAT", "xml", "log_format"),
        ] {
            var environment = key
            environment[variable] = value
            do {
                _ = try MasterConfiguration.load(flags: [:], environment: environment, configFile: nil)
                Issue.record("\(variable)=\(value) was accepted")
            } catch {
                #expect(error.setting == setting)
                #expect(error.message.contains("\"\(value)\"") && error.message.contains(variable))
                #expect(error.message.contains("expected one of"))
            }
        }
        var environment = key
        environment["TASK_MASTER_SYNC"] = "always"
        environment["TASK_MASTER_LOG_LEVEL"] = "debug"
        let (config, _) = try MasterConfiguration.load(flags: [:], environment: environment, configFile: nil)
        #expect(config.syncPolicy == .always && config.logLevel == .debug)
    }

    @Test func memoryLimitsTakeSizesAndSharesOfMemory() throws {
        var environment = key
        environment["TASK_MASTER_MAX_MEMORY"] = "1.5GiB"
        let (config, _) = try MasterConfiguration.load(
            flags: [:],
            environment: environment,
            configFile: try file(#"{"queue_max_bytes": {"task": "64MiB", "small": 1000}}"#)
        )
        #expect(config.maxMemory.bytes == ByteCount(1536 << 20))
        #expect(config.queueMaxBytes == ["task": ByteCount(64 << 20), "small": ByteCount(1000)])
        #expect(MemorySize(parsing: "25%", machineMemory: 8 << 30)?.bytes == ByteCount(2 << 30))
        #expect(MemorySize(parsing: "0%") == nil && MemorySize(parsing: "lots") == nil)
        #expect(MasterConfiguration(authKey: Secret([1])).maxMemory.bytes.bytes > 0)
        environment["TASK_MASTER_MAX_MEMORY"] = "12 parsecs"
        #expect(throws: ConfigurationError.self) {
            try MasterConfiguration.load(flags: [:], environment: environment, configFile: nil)
        }
    }
}
