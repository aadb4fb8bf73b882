import TaskMasterClient
import TaskMasterConfiguration

/// A client error as the one line task-ctl prints: what failed, where, and what to do.
enum ErrorLine {
    static func text(_ error: ClientError, waited: Duration? = nil) -> String {
        var line = error.description
        if let waited, waited > .zero, error.code == .connectFailed {
            line += " (waited \(DurationText.describe(waited)))"
        }
        if let hint = hint(error) { line += "; \(hint)" }
        return line
    }

    private static func hint(_ error: ClientError) -> String? {
        if let reason = error.reason, reason.contains("TLS") {
            if reason.contains("certificate verify failed") {
                return "check that --tls-ca holds the CA that signed the master's certificate"
            }
            return reason.contains("(check") ? nil : "check --tls-ca, --tls-cert and --tls-key"
        }
        switch error.code {
        case .authenticationFailed:
            return "use the master's authkey (TASK_AUTHKEY or --authkey-file)"
        case .connectFailed where error.reason == "host not found":
            return "check the host name in --connect (or TASK_MASTER_ADDRESS)"
        case .connectFailed:
            return "check --connect (or TASK_MASTER_ADDRESS) and that task-master runs there"
        case .handshakeFailed:
            return "check that a task-master listens there, and that TLS is on at both ends or neither (--tls-ca)"
        default:
            return nil
        }
    }
}
