import Foundation
import ManagerWire
import Pickle
import TestSupport
import Testing

/// Requests and replies captured from real Python 3.11–3.13 manager sessions
/// (Tests/Fixtures/python-managers).
@Suite struct CapturedSessionTests {
    struct Message {
        var session: String
        var direction: String
        var payload: [UInt8]
        var note: String
    }

    /// Every pickle frame of the worker and misc sessions, without the length header.
    static let messages: [Message] = {
        let directory = Fixtures.url("python-managers")
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { ($0.hasPrefix("worker_") || $0.hasPrefix("misc_")) && $0.hasSuffix(".json") }.sorted()
        var messages: [Message] = []
        for file in files {
            guard let data = try? Data(contentsOf: directory.appendingPathComponent(file)),
                let session = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let frames = session["messages"] as? [[String: Any]]
            else { continue }
            for frame in frames where frame["kind"] as? String == "pickle" {
                guard let hex = frame["hex"] as? String, let bytes = [UInt8](hex: hex), bytes.count > 4 else {
                    continue
                }
                // The 12-byte long header appears once in misc (a test of Python's reader).
                let headerLength = bytes.starts(with: [0xFF, 0xFF, 0xFF, 0xFF]) ? 12 : 4
                messages.append(
                    Message(
                        session: file,
                        direction: frame["dir"] as? String ?? "",
                        payload: Array(bytes.dropFirst(headerLength)),
                        note: frame["note"] as? String ?? ""
                    )
                )
            }
        }
        return messages
    }()

    @Test func theCapturesAreThere() {
        #expect(Self.messages.filter { $0.direction == "c2s" }.count > 100)
        #expect(Self.messages.filter { $0.direction == "s2c" }.count > 100)
    }

    @Test func everyCapturedRequestReadsAsARequestOrFailsClearly() throws {
        var parsed = 0
        for message in Self.messages where message.direction == "c2s" {
            do {
                let request = try ManagerRequest(decoding: message.payload)
                parsed += 1
                // Written back, it reads the same.
                #expect(try ManagerRequest(decoding: request.encoded()) == request, "\(message.note)")
            } catch {
                // misc sends deliberately broken requests (garbage, a non-4-tuple): those must be errors.
                #expect(message.session.hasPrefix("misc_"), "\(message.session): \(message.note): \(error)")
            }
        }
        #expect(parsed > 100)
    }

    @Test func theWorkerSessionsRequestsMeanWhatPythonMeant() throws {
        let requests = try Self.messages.filter { $0.session == "worker_s3.13_c3.13.json" && $0.direction == "c2s" }
            .map { try ManagerRequest(decoding: $0.payload) }
        #expect(requests.first?.method == "dummy" && requests.first?.ident == nil)
        #expect(requests.contains { $0.method == "create" && $0.arguments.first?.stringValue == "get_task_queue" })
        #expect(
            requests.contains { $0.method == "accept_connection" && $0.arguments.first?.stringValue == "MainProcess" }
        )
        let get = try #require(requests.first { $0.method == "get" })
        #expect(get.ident?.count == 12)
        #expect(get.keyword("timeout")?.intValue == 1)
        #expect(try QueueCall.parse(get) == .get(.seconds(1)))
        let put = try #require(requests.first { $0.method == "put" })
        #expect(put.arguments.first?.stringValue == "7 * 7 = 49")
    }

    @Test func everyCapturedReplyReadsAsAReply() throws {
        var kinds: Set<String> = []
        for message in Self.messages where message.direction == "s2c" {
            let reply = try ManagerReply(decoding: message.payload)
            switch reply {
            case .returned: kinds.insert("#RETURN")
            case .error: kinds.insert("#ERROR")
            case .traceback: kinds.insert("#TRACEBACK")
            case .unserializable: kinds.insert("#UNSERIALIZABLE")
            case .other(let kind, _): kinds.insert(kind)
            }
        }
        #expect(kinds.isSuperset(of: ["#RETURN", "#ERROR", "#TRACEBACK", "#UNSERIALIZABLE", "#PROXY"]))
    }

    @Test(arguments: ["3.11", "3.12", "3.13"])
    func ourRepliesAreByteForBytePythons(version: String) throws {
        let replies = Self.replies(version)
        #expect(replies.contains(try ManagerReply.returnedNone.encoded()))
        #expect(replies.contains(try ManagerReply.error(PythonException.empty).encoded()))
        #expect(replies.contains(try ManagerReply.returned(.int(100000)).encoded()))
    }

    /// The create reply: the same bytes as Python's once the ident is Python's. Python 3.13's
    /// queues also expose `shutdown` (new in 3.13), which task-master's queues don't serve; with
    /// that one name added, our encoding of the reply is Python 3.13's byte for byte.
    @Test(arguments: [("3.11", [String]()), ("3.12", []), ("3.13", ["shutdown"])])
    func ourCreateReplyIsPythonsWithItsExposedMethods(version: String, onlyInPython: [String]) throws {
        let requests = Self.messages.filter {
            $0.session == "worker_s\(version)_c\(version).json" && $0.direction == "c2s"
        }
        let ident = try #require(
            requests.compactMap { try? ManagerRequest(decoding: $0.payload) }.first { $0.method == "get" }?.ident
        )
        let exposed = (QueueCall.exposed + onlyInPython).sorted()  // Python lists them sorted
        let create = ManagerReply.returned(.tuple([.string(ident), .tuple(exposed.map { .string($0) })]))
        #expect(Self.replies(version).contains(try create.encoded()))
    }

    private static func replies(_ version: String) -> [[UInt8]] {
        messages.filter { $0.session == "worker_s\(version)_c\(version).json" && $0.direction == "s2c" }.map(\.payload)
    }
}
