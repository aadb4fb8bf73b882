import TaskMasterStatus

/// Where the admin endpoint gets its numbers: the daemon implements this.
///
/// Called on every scrape of `/metrics` and every `/api/stats` request (the status page polls
/// once a second), off the client connections' event loops. It may wait for a backend that
/// must be asked over the network, but should be cheap: its cost grows with the number of
/// queues and clients, not with the number of tasks.
public protocol StatusSource: Sendable {
    /// The daemon's state at this moment. Totals are cumulative since the daemon started.
    func statusSnapshot() async -> StatusSnapshot
}
