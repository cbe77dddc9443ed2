import Foundation

/// CPU time, disk writes and peak memory of a process, and the machine's stolen time, from /proc (Linux).
enum ProcessStats {
    /// The machine's CPU time so far, in clock ticks: all of it, and the part stolen by the hypervisor.
    struct MachineTicks {
        var total: Double
        var steal: Double
        /// idle + iowait: no process wanted the CPU.
        var idle: Double

        func stealPercent(since earlier: MachineTicks) -> Double {
            let total = self.total - earlier.total
            return total > 0 ? (steal - earlier.steal) * 100 / total : 0
        }

        func idlePercent(since earlier: MachineTicks) -> Double {
            let total = self.total - earlier.total
            return total > 0 ? (idle - earlier.idle) * 100 / total : 0
        }
    }

    /// The "cpu" line of /proc/stat: user nice system idle iowait irq softirq steal (guest time is inside user).
    static func machineTicks() -> MachineTicks? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
        else { return nil }
        let ticks = line.split(separator: " ").dropFirst().prefix(8).compactMap { Double($0) }
        guard ticks.count == 8 else { return nil }
        return MachineTicks(total: ticks.reduce(0, +), steal: ticks[7], idle: ticks[3] + ticks[4])
    }

    /// utime + stime in seconds (fields 14 and 15 of /proc/PID/stat, in clock ticks).
    static func cpuSeconds(pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Bytes the process caused to be written to storage so far (`write_bytes` of /proc/PID/io: page-cache
    /// writeback and syncs of its files, not socket writes); 0 if unreadable.
    static func diskBytesWritten(pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/io", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("write_bytes:") }),
            let bytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
        else { return 0 }
        return bytes
    }

    /// VmHWM of /proc/PID/status, in megabytes.
    static func peakMemoryMegabytes(pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
        else { return 0 }
        return kilobytes / 1024
    }
}
