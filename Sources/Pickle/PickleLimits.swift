/// Bounds the reader enforces, so that a hostile pickle costs bounded memory and time.
///
/// The defaults suit request and reply values of a task queue: generous for real data,
/// small enough that a single pickle can't exhaust the process.
public struct PickleLimits: Hashable, Sendable {
    /// Largest input, in bytes. Default 64 MiB.
    public var maxInputBytes: Int
    /// Deepest nesting of containers (and of MARKs while reading). Default 1000, like
    /// Python's recursion limit: deeper values could not be pickled again by Python itself.
    /// Also bounds ``PickleGraph/value(limits:)``.
    public var maxDepth: Int
    /// Most values (nodes) one pickle may build, and most entries on the reader's stack.
    /// Default 1,000,000. Also bounds how many values ``PickleGraph/value(limits:)`` may
    /// produce when it copies shared values.
    public var maxNodes: Int
    /// Most memo entries. Default 1,000,000.
    public var maxMemoEntries: Int
    /// Largest integer, in bytes of its two's-complement form (LONG1/LONG4, or the digits of
    /// a text LONG/INT, at about 2.4 digits a byte). Default 64 KiB (about 158,000 decimal
    /// digits), so that no pickle makes the reader convert a huge number.
    public var maxIntegerBytes: Int

    /// Limits with the given bounds; every one left out has its default.
    public init(
        maxInputBytes: Int = 64 << 20,
        maxDepth: Int = 1000,
        maxNodes: Int = 1_000_000,
        maxMemoEntries: Int = 1_000_000,
        maxIntegerBytes: Int = 64 << 10
    ) {
        self.maxInputBytes = maxInputBytes
        self.maxDepth = maxDepth
        self.maxNodes = maxNodes
        self.maxMemoEntries = maxMemoEntries
        self.maxIntegerBytes = maxIntegerBytes
    }
}
