import NIOCore
import NIOPosix
import Testing

@testable import PostgresBackend

/// The lanes' task executor: a task that prefers it runs on its event loop, and an `await` of
/// a nonisolated function that doesn't suspend goes straight on instead of being enqueued again.
@Suite struct EventLoopTaskExecutorTests {
    /// Nonisolated and async, like a row sequence's `next()`; never suspends.
    @concurrent static func square(_ n: Int) async -> Int { n * n }

    @Test func callsThatDoNotSuspendAreNotEnqueuedAgain() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let executor = EventLoopTaskExecutor(group.next())
        let (sum, added, onLoop) = await withTaskExecutorPreference(executor) {
            let before = executor.enqueued
            var sum = 0
            for n in 1...1_000 { sum += await Self.square(n) }
            return (sum, executor.enqueued - before, executor.eventLoop.inEventLoop)
        }
        #expect(sum == 333_833_500)
        #expect(onLoop)
        // Run as the loop's serial executor instead, each call would be enqueued (1,000+).
        #expect(added < 10)
        try await group.shutdownGracefully()
    }

    @Test func aTaskResumesOnItsLoopAfterWaitingForAnother() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let executor = EventLoopTaskExecutor(group.next())
        let other = group.next()
        #expect(other !== executor.eventLoop)
        let (answer, onLoop) = try await Task(executorPreference: executor) {
            let answer = try await other.scheduleTask(in: .milliseconds(5)) { other.inEventLoop }.futureResult.get()
            return (answer, executor.eventLoop.inEventLoop)
        }.value
        #expect(answer)
        #expect(onLoop)
        try await group.shutdownGracefully()
    }
}
