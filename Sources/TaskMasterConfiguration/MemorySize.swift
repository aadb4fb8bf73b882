import Foundation
import TaskMasterStatus

/// A memory limit as the configuration takes it: a size (`2GiB`), or a share of the
/// machine's memory (`50%`), which is the memory of the process's cgroup when that is smaller.
public struct MemorySize: Hashable, Sendable, CustomStringConvertible {
    /// The limit in bytes.
    public var bytes: ByteCount
    /// The share it was given as, if it was.
    public var share: Double?

    public init(_ bytes: ByteCount) {
        self.bytes = bytes
        self.share = nil
    }

    /// `2GiB`, `1500000`, or `50%` (of ``machineMemory()``).
    public init?(parsing text: String, machineMemory: Int = MemorySize.machineMemory()) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix("%") {
            guard let percent = Double(trimmed.dropLast()), percent > 0, percent <= 100 else { return nil }
            self.init(ByteCount(Int(Double(machineMemory) * percent / 100)))
            self.share = percent / 100
        } else {
            guard let bytes = ByteCount(parsing: trimmed), bytes.bytes > 0 else { return nil }
            self.init(bytes)
        }
    }

    /// Half the machine's memory.
    public static func defaultLimit() -> MemorySize {
        MemorySize(parsing: "50%") ?? MemorySize(ByteCount(1 << 30))
    }

    /// The memory this process can have: the machine's, or its cgroup's limit if smaller.
    public static func machineMemory() -> Int {
        let physical = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        guard let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
            let limit = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), limit > 0
        else { return physical }
        return min(physical, limit)
    }

    public var description: String {
        guard let share else { return bytes.description }
        return "\(bytes) (\(Int((share * 100).rounded()))% of memory)"
    }
}
