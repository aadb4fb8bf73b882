import Foundation
import TaskMasterStatus

extension Duration {
    /// `1.250s`, for log lines about the next retry.
    var formattedSeconds: String {
        let ms = milliseconds
        return "\(ms / 1000).\(String(format: "%03d", Int(ms % 1000)))s"
    }
}
