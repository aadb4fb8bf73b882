/// When a change counts as durable, and so when a client's put or ack is answered.
public enum SyncPolicy: String, Hashable, Sendable, CaseIterable {
    /// Every write is committed and fsynced before the requests it carries are answered;
    /// requests that arrive during a commit share the next one.
    case always
    /// Group commit: writes gather for a short, bounded delay, then commit and fsync together;
    /// the requests they carry are answered after. The default.
    case batch
    /// Writes reach the database lazily and are not fsynced; requests are answered at once.
    /// Survives a crash of the master, not of the machine.
    case off
}
