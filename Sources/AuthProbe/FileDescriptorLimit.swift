#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process's limit on open file descriptors (RLIMIT_NOFILE). Every probe connection, every connection to the
/// metrics endpoint and the database's files each hold one: at the usual default soft limit of 1,024, a thousand
/// idle connections to the endpoint once left no descriptor for probes, whose failures then read as provider
/// outages.
public struct FileDescriptorLimit: Sendable, Equatable, CustomStringConvertible {
    /// The limit that applies (the kernel refuses a new descriptor past it).
    public var soft: Int
    /// The ceiling an unprivileged process may raise `soft` to.
    public var hard: Int

    public init(soft: Int, hard: Int) {
        self.soft = soft
        self.hard = hard
    }

    public var description: String { "\(self.soft) (hard \(self.hard))" }

    /// Descriptors kept apart for everything that is neither a probe nor a metrics connection: the database and
    /// its WAL, event loops, name lookups, the listening socket, logs.
    public static let reserve = 128

    /// The most a raised soft limit asks for when the hard limit is unlimited (Linux's default `nr_open`).
    static let unlimitedCeiling = 1 << 20

    /// The current limits; nil when they cannot be read.
    public static func current() -> FileDescriptorLimit? {
        var limit = rlimit()
        guard getrlimit(Self.resource, &limit) == 0 else { return nil }
        return FileDescriptorLimit(soft: Self.count(limit.rlim_cur), hard: Self.count(limit.rlim_max))
    }

    /// Raises the soft limit to the hard limit (an unprivileged process may), and returns the limits that then
    /// apply; nil when they cannot be read. Never lowers it.
    @discardableResult
    public static func raiseSoftLimit() -> FileDescriptorLimit? {
        var limit = rlimit()
        guard getrlimit(Self.resource, &limit) == 0 else { return nil }
        let wanted = min(Self.count(limit.rlim_max), Self.unlimitedCeiling)
        if Self.count(limit.rlim_cur) < wanted {
            // Darwin refuses more than OPEN_MAX for the soft limit, whatever the hard limit says: try that next.
            for candidate in [wanted, min(wanted, 10_240)] {
                var raised = limit
                raised.rlim_cur = rlim_t(candidate)
                if setrlimit(Self.resource, &raised) == 0 { break }
            }
        }
        return Self.current()
    }

    /// How many connections the metrics endpoint may hold so that `probeConcurrency` runs, one connection each,
    /// and ``reserve`` still fit under `soft`: at most `wanted`, at least 8.
    public func serverConnections(wanted: Int, probeConcurrency: Int) -> Int {
        max(8, min(wanted, self.soft - probeConcurrency - Self.reserve))
    }

    private static func count(_ value: rlim_t) -> Int {
        value >= rlim_t(Int.max) ? Int.max : Int(value)
    }

    #if canImport(Glibc)
        private static let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
        private static let resource = RLIMIT_NOFILE
    #endif
}
