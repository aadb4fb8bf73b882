import Foundation
import Synchronization
import TaskWire
import TestSupport
import Testing

/// Abuse from every side while a batch runs: it must still come out right, at no less than half
/// its unloaded speed.
@Suite(.serialized) struct HostileLoadTests {
    /// Connections and misbehaviour kept up by plain blocking sockets on their own threads
    /// (never on Swift's cooperative threads, which the test itself needs).
    final class Attack: Sendable {
        private let stopped = Atomic<Bool>(false)
        private let idle = Mutex<[RawConnection]>([])
        let port: Int

        init(port: Int) { self.port = port }

        func stop() {
            stopped.store(true, ordering: .relaxed)
            idle.withLock { $0.removeAll() }
        }

        /// Opens `count` connections that never send a byte.
        func holdIdleConnections(_ count: Int) throws {
            for _ in 0..<count {
                let connection = try RawConnection(port: port, timeout: .seconds(2))
                idle.withLock { $0.append(connection) }
            }
        }

        /// Repeats `body` every `interval` on a thread of its own until stopped.
        func repeatEvery(_ interval: TimeInterval, _ body: @escaping @Sendable (Int) -> Void) {
            let thread = Thread { [self] in
                var round = 0
                while !stopped.load(ordering: .relaxed) {
                    body(round)
                    round += 1
                    Thread.sleep(forTimeInterval: interval)
                }
            }
            thread.start()
        }
    }

    @Test func aBatchRunsRightAndAtLeastHalfAsFastUnderAbuse() async throws {
        let master = try await MasterProcess.start(arguments: [
            "--handshake-timeout", "60", "--max-connections", "2000", "--max-frame-bytes", "65536",
        ])
        let workers = try (1...2).map { try master.startWorker([], name: "worker \($0)") }
        let count = 20000
        // Warm up, then the unloaded figure.
        _ = try await master.ctl(["batch", "--count", "2000", "--json"])
        let quiet = try await master.ctl(["batch", "--count", "\(count)", "--json", "--quiet"])
        let unloaded = try BatchSummary(stdout: quiet.stdout)
        #expect(unloaded.completed == count)

        let attack = Attack(port: master.port)
        try attack.holdIdleConnections(1000)
        let port = master.port
        attack.repeatEvery(0.01) { round in  // garbage instead of a handshake answer
            guard let raw = try? RawConnection(port: port, timeout: .seconds(2)) else { return }
            _ = try? raw.readFrame()
            try? raw.send((0..<64).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ round) })
        }
        attack.repeatEvery(0.01) { _ in  // truncated frames: a header for 100 bytes, then 50, then gone
            guard let raw = try? RawConnection(port: port, timeout: .seconds(2)) else { return }
            _ = try? raw.readFrame()
            try? raw.send([0, 0, 0, 100] + Array(repeating: 7, count: 50))
        }
        attack.repeatEvery(0.02) { _ in  // a 2 GiB frame announced
            guard let raw = try? RawConnection(port: port, timeout: .seconds(2)) else { return }
            _ = try? raw.readFrame()
            try? raw.send([0x7F, 0xFF, 0xFF, 0xFF])
        }
        let slow = try RawConnection(port: port, timeout: .seconds(2))
        attack.repeatEvery(1.0) { _ in try? slow.send([0x00]) }  // one byte a second
        try await Task.sleep(for: .milliseconds(500))

        let loaded = try await master.ctl(["batch", "--count", "\(count)", "--json", "--quiet"])
        attack.stop()
        #expect(loaded.status == 0, "\(loaded.stderr)")
        let summary = try BatchSummary(stdout: loaded.stdout)
        print(
            "hostile load: \(Int(summary.tasks_per_second)) tasks/s under abuse, \(Int(unloaded.tasks_per_second)) unloaded"
        )
        #expect(summary.completed == count && summary.wrong == 0 && summary.missing == 0 && summary.duplicates == 0)
        #expect(
            summary.tasks_per_second >= unloaded.tasks_per_second / 2,
            "under abuse \(summary.tasks_per_second) tasks/s, unloaded \(unloaded.tasks_per_second)"
        )
        #expect(master.process.isRunning)
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers { await worker.waitForExit(within: .seconds(20)) }
        await master.stop()
    }
}
