import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The process figures Prometheus client libraries export as `process_*`, read from /proc (Linux).
struct ProcessStatistics {
    var cpuSeconds: Double?
    var residentBytes: Int?
    var virtualBytes: Int?
    var startTime: Double?
    var openFileDescriptors: Int?
    var maxFileDescriptors: Int?

    static func read() -> ProcessStatistics {
        var statistics = ProcessStatistics()
        #if os(Linux)
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            let pageSize = sysconf(Int32(_SC_PAGESIZE))
            if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            {
                // Fields after the command name (which may hold spaces), numbered from 3 (state).
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                func field(_ number: Int) -> Double? { fields.count > number - 3 ? Double(fields[number - 3]) : nil }
                if let user = field(14), let system = field(15), ticks > 0 {
                    statistics.cpuSeconds = (user + system) / ticks
                }
                if let virtual = field(23) { statistics.virtualBytes = Int(virtual) }
                if let pages = field(24) { statistics.residentBytes = Int(pages) * pageSize }
                if let started = field(22), ticks > 0, let boot = Self.bootTime() {
                    statistics.startTime = boot + started / ticks
                }
            }
            statistics.openFileDescriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))
                .map(\.count)
            var limit = rlimit()
            if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
                statistics.maxFileDescriptors = Int(limit.rlim_cur)
            }
        #endif
        return statistics
    }

    /// Boot time from /proc/stat's `btime`, read once.
    private static func bootTime() -> Double? {
        Self.boot
    }

    private static let boot: Double? = {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }()
}
