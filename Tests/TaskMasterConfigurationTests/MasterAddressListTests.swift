import Foundation
import TaskMasterConfiguration
import Testing

/// `--connect`, `TASK_MASTER_ADDRESS` and `connect` hold one master address or several.
@Suite struct MasterAddressListTests {
    private let key = ["TASK_AUTHKEY": "k"]

    private func connection(
        flag: String? = nil,
        environment: [String: String] = [:],
        file: String? = nil
    ) throws
        -> ConnectionSettings
    {
        var flags: [String: String] = [:]
        flags[ConnectionSettings.Keys.connect.key] = flag
        var path: String?
        if let file {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("tm-connect-\(UUID()).json")
            try Data(file.utf8).write(to: url)
            path = url.path
        }
        let (config, _) = try WorkerConfiguration.load(
            flags: flags,
            environment: key.merging(environment) { $1 },
            configFile: path
        )
        return config.connection
    }

    @Test func oneAddressOrSeveralSeparatedByCommasInEveryForm() {
        let endpoints = try? Endpoint.list(parsing: "10.0.0.5:5000, master-b:6000 ,[::1]:7000,[fe80::1],host").get()
        #expect(
            endpoints == [
                Endpoint(host: "10.0.0.5", port: 5000), Endpoint(host: "master-b", port: 6000),
                Endpoint(host: "::1", port: 7000), Endpoint(host: "fe80::1", port: 5000),
                Endpoint(host: "host", port: 5000),
            ]
        )
        #expect((try? Endpoint.list(parsing: "10.0.0.5:5000").get()) == [Endpoint(host: "10.0.0.5", port: 5000)])
        #expect(
            endpoints?.map(\.description) == [
                "10.0.0.5:5000", "master-b:6000", "[::1]:7000", "[fe80::1]:5000", "host:5000",
            ]
        )
    }

    @Test func aBadItemIsNamedAndAnEmptyOneToo() {
        #expect(Endpoint.list(parsing: "a:5000,b:99999") == .failure(Endpoint.InvalidItem(text: "b:99999")))
        #expect(Endpoint.list(parsing: "a:5000,,b:5000") == .failure(Endpoint.InvalidItem(text: "")))
        #expect(Endpoint.list(parsing: "a:5000,") == .failure(Endpoint.InvalidItem(text: "")))
        #expect(Endpoint.list(parsing: "") == .failure(Endpoint.InvalidItem(text: "")))
        #expect(Endpoint.list(parsing: "a b:5000") == .failure(Endpoint.InvalidItem(text: "a b:5000")))
        #expect(Endpoint.list(parsing: "[::1:5000") == .failure(Endpoint.InvalidItem(text: "[::1:5000")))
    }

    @Test func theFlagTheEnvironmentAndTheFileEachTakeAList() throws {
        let a = Endpoint(host: "a", port: 5000)
        let b = Endpoint(host: "b", port: 6000)
        #expect(try connection(flag: "a:5000,b:6000").endpoints == [a, b])
        #expect(try connection(environment: ["TASK_MASTER_ADDRESS": "a:5000,b:6000"]).endpoints == [a, b])
        #expect(try connection(file: #"{"connect": "a:5000, b:6000"}"#).endpoints == [a, b])
        #expect(try connection(file: #"{"connect": ["a:5000", "b:6000"]}"#).endpoints == [a, b])
        // Still flags over environment over file, as a whole list.
        #expect(try connection(flag: "b:6000", environment: ["TASK_MASTER_ADDRESS": "a:5000"]).endpoints == [b])
        // The default, and `endpoint` as the first of the list.
        #expect(try connection().endpoints == [Endpoint(host: "127.0.0.1", port: 5000)])
        var settings = try connection(flag: "a:5000,b:6000")
        #expect(settings.endpoint == a)
        settings.endpoint = b
        #expect(settings.endpoints == [b])
    }

    @Test func aBadListSaysWhichItemAndWhereItCameFrom() throws {
        let fromFlag = try #require(throws: ConfigurationError.self) { try connection(flag: "a:5000,b:0") }
        #expect(fromFlag.setting == "connect" && fromFlag.code == .invalidValue)
        #expect(fromFlag.message.contains("\"b:0\"") && fromFlag.message.contains("--connect"), "\(fromFlag.message)")
        #expect(fromFlag.message.contains("10.0.0.5:5000,10.0.0.6:5000"), "\(fromFlag.message)")
        let empty = try #require(throws: ConfigurationError.self) {
            try connection(environment: ["TASK_MASTER_ADDRESS": "a:5000,"])
        }
        #expect(empty.message.contains("empty") && empty.message.contains("TASK_MASTER_ADDRESS"), "\(empty.message)")
        let number = try #require(throws: ConfigurationError.self) { try connection(file: #"{"connect": 5000}"#) }
        #expect(number.message.contains("a string or an array of strings"), "\(number.message)")
        let emptyArray = try #require(throws: ConfigurationError.self) { try connection(file: #"{"connect": []}"#) }
        #expect(emptyArray.message.contains("no master address"), "\(emptyArray.message)")
        #expect(!"\(fromFlag.message)\(empty.message)\(number.message)".contains("\n"))
    }

    @Test func waitForMasterTakesADurationWithOrWithoutAUnit() throws {
        func wait(_ text: String?, environment: [String: String] = [:]) throws -> Duration? {
            var flags: [String: String] = [:]
            flags[ControlConfiguration.Keys.waitForMaster.key] = text
            return try ControlConfiguration.load(flags: flags, environment: key.merging(environment) { $1 }).0
                .waitForMaster
        }
        #expect(try wait(nil) == nil)
        #expect(try wait("30") == .seconds(30))
        #expect(try wait("30s") == .seconds(30))
        #expect(try wait("2.5s") == .milliseconds(2500))
        #expect(try wait("500ms") == .milliseconds(500))
        #expect(try wait("2m") == .seconds(120))
        #expect(try wait("1h") == .seconds(3600))
        #expect(try wait(nil, environment: ["TASK_CTL_WAIT_FOR_MASTER": "5s"]) == .seconds(5))
        for bad in ["soon", "-1s", "5 parsecs", "2d", "25h"] {
            let error = try #require(throws: ConfigurationError.self) { try wait(bad) }
            #expect(error.setting == "wait_for_master" && error.message.contains("e.g. 30s"), "\(error.message)")
        }
        #expect(DurationText.describe(.milliseconds(1500)) == "1.5s")
        #expect(DurationText.describe(.seconds(120)) == "2m")
        #expect(DurationText.describe(.milliseconds(20)) == "20ms")
    }

    @Test func aConfigFileThatIsNotJSONIsReportedOnOneLineWithWhereAndHow() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try connection(file: "{\"connect\": \"a:5000\"\n \"task_queue\": \"x\"}")
        }
        #expect(error.code == .unreadableFile)
        #expect(!error.message.contains("\n") && !error.message.contains("DecodingError"), "\(error.message)")
        #expect(error.message.contains("not valid JSON") && error.message.contains("json.tool"), "\(error.message)")
    }
}
