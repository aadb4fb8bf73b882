/// An error of the worker runtime, or one a job throws to fail a task.
public struct WorkerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of error; extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// A job could not do a task (its input was wrong, say). The task gets a failed result
        /// and the worker goes on.
        public static let taskFailed = Code("taskFailed")
        /// The worker's settings are unusable; ``WorkerError/message`` says which and why.
        public static let invalidConfiguration = Code("invalidConfiguration")

        public var description: String { name }
    }

    public var code: Code
    /// What went wrong, in one line, e.g. `the task is a float, not a str`.
    public var message: String
    /// For `.taskFailed`: the result payload to put for the task; nil puts the Python `str`
    /// `"error: <message>"`.
    public var result: [UInt8]?

    public init(_ code: Code, _ message: String, result: [UInt8]? = nil) {
        self.code = code
        self.message = message
        self.result = result
    }

    /// Fails the task being done: thrown from a job, the task gets a failed result (`result`,
    /// or the Python `str` `"error: <reason>"`) and the worker goes on.
    public static func taskFailed(_ reason: String, result: [UInt8]? = nil) -> WorkerError {
        WorkerError(.taskFailed, reason, result: result)
    }

    public var description: String { message }
}
