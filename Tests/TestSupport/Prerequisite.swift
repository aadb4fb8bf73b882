import Foundation

/// The suite's rule for what a test needs from the machine (PostgreSQL, Chromium, root and
/// iproute2): under `CI=true` a missing prerequisite fails the test; elsewhere the test may
/// skip, saying what is missing.
///
///     @Suite(.enabled(if: Prerequisite.run(if: Thing.available), "needs Thing: …"))
///     …
///     try Prerequisite.require(Thing.available, "Thing (install it with …)")
public enum Prerequisite {
    /// Whether this is a CI run (`CI=true`).
    public static let isCI: Bool = ProcessInfo.processInfo.environment["CI"]?.lowercased() == "true"

    /// Whether a test whose prerequisite is `available` runs: when it is, and always under
    /// `CI=true`, where the test must then fail (see `require`).
    public static func run(if available: Bool) -> Bool {
        available || isCI
    }

    /// Throws a failure naming `what` when it is not available.
    public static func require(_ available: Bool, _ what: String) throws {
        guard !available else { return }
        throw TestFailure(
            "missing prerequisite: \(what)"
                + (isCI ? " (CI=true: a missing prerequisite fails the test)" : "")
        )
    }

    /// PostgreSQL's server binaries (`PostgresCluster` finds them): run when they are there,
    /// and under `CI=true`, where `PostgresCluster.start` then fails saying what is missing.
    public static var postgres: Bool {
        run(if: PostgresInstallation.found != nil)
    }
}
