/// Bounds the reader enforces, so that a hostile pickle costs bounded memory and time.
public struct PickleLimits: Hashable, Sendable {
    /// Largest input, in bytes. Default 64 MiB.
    public var maxInputBytes: Int
    /// Deepest nesting of containers and MARKs. Default 1000, like Python's recursion limit.
    public var maxDepth: Int
    /// Most values (nodes) one pickle may build. Default 1,000,000.
    public var maxNodes: Int
    /// Most memo entries. Default 1,000,000.
    public var maxMemoEntries: Int
    /// Largest integer, in bytes of its two's-complement form (LONG1/LONG4/text LONG).
    /// Default 64 KiB (about 158,000 decimal digits).
    public var maxIntegerBytes: Int

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
