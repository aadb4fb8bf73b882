extension Duration {
    /// The duration in seconds, with its fraction.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The duration in whole milliseconds, rounded toward zero.
    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// A duration of `seconds`, rounded to microseconds; nil if it is not finite.
    public static func seconds(exactly seconds: Double) -> Duration? {
        guard seconds.isFinite, abs(seconds) < 9e12 else { return nil }
        return .microseconds(Int64((seconds * 1_000_000).rounded()))
    }
}
