import Foundation
import NIOCore
import TaskMasterClient
import TaskWire
import TestSupport
import Testing

/// An authenticated raw connection that sends native requests as fast as the socket takes
/// them, without waiting for answers, while a thread of its own reads and decodes whatever
/// comes back. Blocking socket work runs on threads, off the cooperative pool.
final class RequestFlood: Sendable {
    struct Outcome: Sendable {
        /// Requests handed to the socket before a send failed or all were sent.
        var sent = 0
        /// Answers read, by kind: `error <code>`, or the message's case.
        var answers: [String: Int] = [:]
        /// The messages of the first and the last error answer.
        var firstError: String?
        var lastError: String?
        /// Whether the master ended the connection (the reader saw its end, or a send failed).
        var closedByMaster = false
        var elapsed: Duration = .zero
    }

    private let raw: RawConnection

    init(port: Int, key: String) async throws {
        raw = try RawConnection(port: port, timeout: .seconds(20))
        try await raw.authenticate(key: Array(key.utf8))
        try raw.send(NativeFrames.hello("flood"))
        _ = try await raw.readFrame()
    }

    /// Sends `count` requests made by `request` (given the request id), in chunks, until a
    /// send fails or `limit` passes; with `readsAnswers`, a thread reads and sorts the answers
    /// meanwhile, until all came, the master closes the connection, or `limit` passes.
    func run(
        count: Int,
        limit: Duration,
        readsAnswers: Bool = true,
        _ request: @escaping @Sendable (RequestID) -> ClientMessage
    ) async -> Outcome {
        let started = ContinuousClock.now
        let raw = self.raw
        let reader =
            readsAnswers ? Thread.detachedResult { Self.readAnswers(raw, count: count, until: started + limit) } : nil
        let (sent, sendFailed) = await Thread.runDetached {
            let fd = raw.descriptor
            var sent = 0
            let chunk = 4096
            while sent < count, ContinuousClock.now - started < limit {
                var bytes: [UInt8] = []
                bytes.reserveCapacity(chunk * 32)
                for id in sent..<min(count, sent + chunk) {
                    bytes += NativeFrames.request(
                        RequestID(truncatingIfNeeded: id + 1),
                        request(RequestID(truncatingIfNeeded: id + 1))
                    )
                }
                var offset = 0
                while offset < bytes.count {
                    let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    guard n > 0 else { return (sent + Self.frames(in: bytes[..<offset]), true) }
                    offset += n
                }
                sent = min(count, sent + chunk)
            }
            return (sent, false)
        }
        var outcome = await reader?.value ?? Outcome(closedByMaster: sendFailed)
        outcome.sent = sent
        outcome.elapsed = ContinuousClock.now - started
        return outcome
    }

    /// Frames wholly inside `bytes` (each has a 4-byte length first).
    private static func frames(in bytes: ArraySlice<UInt8>) -> Int {
        var index = bytes.startIndex
        var count = 0
        while bytes.endIndex - index >= 4 {
            let length = bytes[index..<index + 4].reduce(0) { $0 << 8 | Int($1) }
            guard bytes.endIndex - index >= 4 + length else { break }
            index += 4 + length
            count += 1
        }
        return count
    }

    /// Reads answers until `count` came, the master closed the connection, or `deadline`.
    private static func readAnswers(
        _ raw: RawConnection,
        count: Int,
        until deadline: ContinuousClock.Instant
    ) -> Outcome {
        var outcome = Outcome()
        var read = 0
        while read < count, ContinuousClock.now < deadline {
            let frame: [UInt8]
            do {
                guard let next = try raw.readFrameOrEnd() else {
                    outcome.closedByMaster = true
                    break
                }
                frame = next
            } catch {
                outcome.answers["read error: \(error)", default: 0] += 1
                break
            }
            read += 1
            guard let response = try? Response(decoding: ByteBuffer(bytes: frame)) else {
                outcome.answers["undecodable", default: 0] += 1
                continue
            }
            switch response.message {
            case .error(let error):
                outcome.answers["error \(error.code)", default: 0] += 1
                if outcome.firstError == nil { outcome.firstError = error.message }
                outcome.lastError = error.message
            default:
                outcome.answers[String("\(response.message)".prefix(while: { $0 != "(" })), default: 0] += 1
            }
        }
        return outcome
    }
}

extension Thread {
    /// Runs blocking `work` on a new thread and awaits its result.
    static func runDetached<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: work()) }.start()
        }
    }

    /// Starts blocking `work` on a new thread now; its result is awaited later.
    static func detachedResult<T: Sendable>(_ work: @escaping @Sendable () -> T) -> Task<T, Never> {
        let (stream, continuation) = AsyncStream<T>.makeStream()
        Thread {
            continuation.yield(work())
            continuation.finish()
        }.start()
        return Task {
            for await value in stream { return value }
            fatalError("the thread ended without a result")
        }
    }
}

extension AbuseTests {
    /// Issue reproduction 2: pipelined waiting gets had no bound. One authenticated client
    /// sends 1,000,000 gets that wait forever, as fast as it can.
    @Test func aMillionPipelinedWaitingGetsAreRefusedAndTheClientClosed() async throws {
        try await MasterProcess.with(arguments: ["--log-format", "json"]) { master in
            let gauge = master.gauge
            let baseline = try #require(gauge.residentBytes)
            let sampler = PeakMemorySampler(gauge)
            defer { sampler.stop() }
            let probe = PingProbe(port: master.port, authKey: master.authKey)
            try await Task.sleep(for: .milliseconds(200))

            let flood = try await RequestFlood(port: master.port, key: master.authKey)
            let outcome = await flood.run(count: 1_000_000, limit: .seconds(60)) { _ in
                .get(queue: "task", maxItems: 1, wait: .forever)
            }
            let pings = try await probe.stop()
            let peak = sampler.peakBytes
            try await Task.sleep(for: .milliseconds(500))
            let after = try #require(gauge.residentBytes)
            print(
                "waiting gets: \(outcome.sent) of 1,000,000 sent in \(String(format: "%.2f", outcome.elapsed.seconds)) s;"
                    + " answers \(outcome.answers); RSS \(megabytes(baseline)) before, peak \(megabytes(peak)),"
                    + " \(megabytes(after)) after; other client's ping p50 \(String(format: "%.2f", pings.quantile(0.5).ms)) ms"
                    + " p99 \(String(format: "%.2f", pings.quantile(0.99).ms)) ms max \(String(format: "%.2f", (pings.last ?? .zero).ms)) ms"
                    + " (\(pings.count) pings)"
            )
            // The waiting limit (1024) is reached, the next ones are refused, and after 100
            // refusals in a row the connection is closed with a last error saying why.
            #expect(outcome.closedByMaster, "\(outcome)")
            #expect(outcome.answers["error limit exceeded", default: 0] == 101, "\(outcome.answers)")
            #expect(outcome.firstError?.contains("too many waiting requests") == true, "\(outcome)")
            #expect(outcome.lastError?.contains("closing the connection") == true, "\(outcome)")
            #expect(outcome.elapsed < .seconds(30))
            #expect(peak < 200_000_000, "RSS peaked at \(megabytes(peak))")
            #expect(after <= max(peak, baseline + 8_000_000), "RSS grew after the client closed: \(megabytes(after))")
            // Its waits ended with it.
            let document = try await master.statusDocument()
            #expect(document.queues["task"]?.int("waiting_consumers") ?? 0 == 0)
            // Other clients were served meanwhile, promptly.
            #expect(pings.count >= 10)
            #expect(pings.quantile(0.99) < .milliseconds(250), "ping p99 \(pings.quantile(0.99))")
            let warnings = master.logMessages(level: "warning")
            #expect(warnings.count == 1 && warnings[0].contains("closing"), "\(warnings)")
        }
    }

    /// A client that pipelines requests the master answers at once, with big answers (peeks
    /// at 2 MiB of tasks), and reads none of the answers: the master stops taking its requests
    /// while their answers can't go out, so what it holds for the client stays near
    /// `max_buffered_bytes` (4 MiB) rather than growing by an answer per request, and the
    /// client is closed after `stall_timeout`.
    @Test func aClientThatReadsNoAnswersCannotMakeTheMasterHoldMoreThanItsBuffer() async throws {
        try await MasterProcess.with(
            arguments: ["--log-format", "json"],
            environment: ["TASK_MASTER_STALL_TIMEOUT": "3"]
        ) { master in
            try await TaskMasterConnection.withConnection(
                to: "127.0.0.1",
                port: master.port,
                authKey: Array(master.authKey.utf8)
            ) { client in
                let items = (0..<8).map { _ in NewItem(payload: [UInt8](repeating: 0x2A, count: 256 << 10)) }
                _ = try await client.put(items, into: "big")
            }
            let gauge = master.gauge
            let baseline = try #require(gauge.residentBytes)
            let sampler = PeakMemorySampler(gauge, every: .milliseconds(5))
            defer { sampler.stop() }
            let probe = PingProbe(port: master.port, authKey: master.authKey)

            // 200 peeks (4 kB of requests) ask for 400 MiB of answers.
            let flood = try await RequestFlood(port: master.port, key: master.authKey)
            let outcome = await flood.run(count: 200, limit: .seconds(10), readsAnswers: false) { _ in
                .peek(queue: "big", maxItems: 8)
            }
            let closed = await master.process.waitForLine(within: .seconds(15), stream: \.stderrLines) {
                $0.contains("read none of the replies")
            }
            let pings = try await probe.stop()
            let peak = sampler.stop()
            print(
                "unread answers: \(outcome.sent) peeks of 2 MiB sent; RSS \(megabytes(baseline)) before,"
                    + " peak \(megabytes(peak)); other client's ping p99 \(String(format: "%.2f", pings.quantile(0.99).ms)) ms"
            )
            #expect(outcome.sent == 200)
            #expect(closed != nil, "the client was not closed after its stall timeout")
            #expect(
                peak - baseline < 48_000_000,
                "RSS grew by \(megabytes(peak - baseline)) for a client that reads nothing"
            )
            #expect(pings.quantile(0.99) < .milliseconds(250), "ping p99 \(pings.quantile(0.99))")
        }
    }
}
