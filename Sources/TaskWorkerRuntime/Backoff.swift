/// Capped exponential backoff with jitter, for reconnecting to a master that is down.
///
/// Attempt *n* waits a random time between half and all of `min(maximum, initial × 2ⁿ)`,
/// so a fleet of workers that lost the master together does not hammer it together.
public struct Backoff: Sendable {
    public let initial: Duration
    public let maximum: Duration
    /// Attempts since the last ``reset()``.
    public private(set) var attempt = 0

    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(30)) {
        precondition(initial > .zero && maximum >= initial, "backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
    }

    /// The pause before the next attempt.
    public mutating func next<G: RandomNumberGenerator>(using generator: inout G) -> Duration {
        let exponent = min(attempt, 40)
        attempt += 1
        var cap = initial
        for _ in 0..<exponent where cap < maximum { cap *= 2 }
        cap = min(cap, maximum)
        let fraction = Double.random(in: 0.5...1.0, using: &generator)
        return cap * fraction
    }

    /// The pause before the next attempt, with the system's random generator.
    public mutating func next() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return next(using: &generator)
    }

    /// Back to the initial pause, after a success.
    public mutating func reset() {
        attempt = 0
    }
}
