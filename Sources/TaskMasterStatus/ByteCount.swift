/// A number of bytes, as the configuration takes it (`512MiB`, `2GiB`, `1500000`) and as
/// messages and the status show it.
public struct ByteCount: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var bytes: Int

    public init(_ bytes: Int) {
        self.bytes = bytes
    }

    /// Parses a count of bytes: digits with an optional unit `B`, `KiB`, `MiB`, `GiB`, `TiB`
    /// (powers of 1024; `K`, `M`, `G`, `T`, `KB`, `MB`, `GB`, `TB` mean the same), case and
    /// spaces ignored, a fraction allowed (`1.5GiB`).
    public init?(parsing text: String) {
        let trimmed = text.filter { $0 != " " && $0 != "_" }.lowercased()
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        let unit = trimmed.dropFirst(digits.count)
        guard let value = Double(digits), value.isFinite, value >= 0 else { return nil }
        let multiplier: Double
        switch unit {
        case "", "b": multiplier = 1
        case "k", "kb", "kib": multiplier = 1024
        case "m", "mb", "mib": multiplier = 1024 * 1024
        case "g", "gb", "gib": multiplier = 1024 * 1024 * 1024
        case "t", "tb", "tib": multiplier = 1024 * 1024 * 1024 * 1024
        default: return nil
        }
        let bytes = (value * multiplier).rounded()
        guard bytes < 9e18 else { return nil }
        self.init(Int(bytes))
    }

    /// `2 GiB`, `1.5 MiB`, `300 bytes`: the largest unit that keeps a number of at least 1,
    /// with at most one decimal.
    public var description: String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) bytes" }
        let tenths = (value * 10).rounded()
        return tenths.truncatingRemainder(dividingBy: 10) == 0
            ? "\(Int(tenths / 10)) \(units[unit])" : "\(tenths / 10) \(units[unit])"
    }

    public static func < (lhs: ByteCount, rhs: ByteCount) -> Bool { lhs.bytes < rhs.bytes }
}
