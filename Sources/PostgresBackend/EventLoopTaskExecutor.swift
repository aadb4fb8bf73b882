import NIOCore
import Synchronization

/// Runs a task's jobs on one event loop, as its preferred task executor.
///
/// Why: the daemon runs Swift concurrency on NIO's event loops, which run each job as the
/// loop's *serial* executor; every call into a nonisolated async function (each row of a
/// query's answer, each `await` of postgres-nio) then asks to switch to the generic executor
/// and is enqueued again: about fifty enqueues per task through a lane. Run as a task executor,
/// a job leaves the generic executor in charge and those calls go straight on, on the same
/// thread as the lane's connection.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop
    /// How many jobs were enqueued here (for tests: a call that doesn't suspend adds none).
    private let jobs = Atomic<Int>(0)
    var enqueued: Int { jobs.load(ordering: .relaxed) }

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        jobs.add(1, ordering: .relaxed)
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
