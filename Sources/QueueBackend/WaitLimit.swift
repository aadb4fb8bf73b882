/// How long a get may wait for items, or a put for room.
public enum WaitLimit: Hashable, Sendable {
    /// Answer at once with what is possible.
    case none
    /// Wait at most this long.
    case upTo(Duration)
    /// Wait as long as it takes.
    case forever

    /// Normalizes a zero or negative duration to `.none`.
    public static func duration(_ duration: Duration) -> WaitLimit {
        duration <= .zero ? .none : .upTo(duration)
    }
}
