import Foundation

extension Duration {
    /// Whole milliseconds, rounded down.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// `1.250s`.
    var formattedSeconds: String {
        let ms = milliseconds
        return "\(ms / 1000).\(String(format: "%03d", Int(ms % 1000)))s"
    }
}
