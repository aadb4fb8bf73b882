import Logging
import TaskMasterConfiguration

extension LoggingSystem {
    /// Sends every logger of the process to standard error in `format`, at `level` and above.
    /// Call once, first thing in `run()`.
    public static func bootstrap(format: LogFormat, level: Logger.Level) {
        bootstrap { label in
            switch format {
            case .human:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            case .json:
                var handler = JSONLinesLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}
