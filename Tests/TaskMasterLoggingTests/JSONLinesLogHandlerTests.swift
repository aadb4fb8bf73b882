import Foundation
import Logging
import Synchronization
import TaskMasterLogging
import Testing

@Suite struct JSONLinesLogHandlerTests {
    /// A logger whose lines land in an array.
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        func logger(level: Logger.Level = .info) -> Logger {
            Logger(label: "task-master") { label in
                var handler = JSONLinesLogHandler(label: label) { line in self.lines.withLock { $0.append(line) } }
                handler.logLevel = level
                return handler
            }
        }
        var objects: [[String: Any]] {
            get throws {
                try lines.withLock { $0 }.map { line in
                    #expect(line.hasSuffix("\n") && line.dropLast().firstIndex(of: "\n") == nil, "one line: \(line)")
                    return try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                }
            }
        }
    }

    @Test func eachEventIsOneJSONObjectWithItsMetadataAtTheTop() throws {
        let sink = Lines()
        var logger = sink.logger()
        logger[metadataKey: "peer"] = "127.0.0.1:40000"
        logger.info("native client connected", metadata: ["name": "task-worker 12@b", "tasks": "3"])
        let object = try #require(try sink.objects.first)
        #expect(object["level"] as? String == "info")
        #expect(object["label"] as? String == "task-master")
        #expect(object["message"] as? String == "native client connected")
        #expect(object["peer"] as? String == "127.0.0.1:40000")
        #expect(object["name"] as? String == "task-worker 12@b")
        #expect(object["tasks"] as? String == "3")
        let stamp = try #require(object["ts"] as? String)
        #expect(stamp.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(stamp)")
    }

    @Test func quotesNewlinesAndControlCharactersStayInsideTheString() throws {
        let sink = Lines()
        let nasty = "a \"quoted\" \\ path\nsecond line\t\u{01}\u{7F} é 🐍"
        sink.logger().warning("\(nasty)", metadata: ["error": "\(nasty)"])
        let object = try #require(try sink.objects.first)
        #expect(object["message"] as? String == nasty)
        #expect(object["error"] as? String == nasty)
    }

    @Test func nestedMetadataBecomesJSONAndFixedFieldsAreNotOverwritten() throws {
        let sink = Lines()
        sink.logger().error(
            "batch failed",
            metadata: [
                "queues": ["task", "result"],
                "limits": ["frame": "16777216", "items": ["1", "2"]],
                "level": "not the level",
                "message": "not the message",
            ]
        )
        let object = try #require(try sink.objects.first)
        #expect(object["level"] as? String == "error")
        #expect(object["message"] as? String == "batch failed")
        #expect(object["meta.level"] as? String == "not the level")
        #expect(object["meta.message"] as? String == "not the message")
        #expect(object["queues"] as? [String] == ["task", "result"])
        let limits = try #require(object["limits"] as? [String: Any])
        #expect(limits["frame"] as? String == "16777216")
        #expect(limits["items"] as? [String] == ["1", "2"])
    }

    @Test func levelsBelowTheThresholdWriteNothing() throws {
        let sink = Lines()
        let logger = sink.logger(level: .notice)
        logger.info("quiet")
        logger.debug("quieter")
        logger.notice("heard")
        #expect(try sink.objects.map { $0["message"] as? String } == ["heard"])
    }
}
