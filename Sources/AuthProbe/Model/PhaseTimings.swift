/// Where the time of one request went. Phases that did not happen (TLS on plain HTTP, anything after a
/// failure) are nil; DNS is zero for an IP literal. A completed request's phases are contiguous and add up
/// to `total`, which runs from the lookup to the body's end; a failed one's `total` is the attempt's wall time.
public struct PhaseTimings: Sendable, Equatable {
    // Nanoseconds, -1 for a phase that did not happen: six plain integers instead of six optional Durations
    // (48 bytes instead of 144), as every target keeps several step states in memory.
    private var dnsNanoseconds: Int64 = -1
    private var connectNanoseconds: Int64 = -1
    private var tlsNanoseconds: Int64 = -1
    private var processingNanoseconds: Int64 = -1
    private var transferNanoseconds: Int64 = -1
    private var totalNanoseconds: Int64 = 0

    public var dns: Duration? {
        get { Self.duration(self.dnsNanoseconds) }
        set { self.dnsNanoseconds = Self.nanoseconds(newValue) }
    }
    public var connect: Duration? {
        get { Self.duration(self.connectNanoseconds) }
        set { self.connectNanoseconds = Self.nanoseconds(newValue) }
    }
    public var tls: Duration? {
        get { Self.duration(self.tlsNanoseconds) }
        set { self.tlsNanoseconds = Self.nanoseconds(newValue) }
    }
    public var processing: Duration? {
        get { Self.duration(self.processingNanoseconds) }
        set { self.processingNanoseconds = Self.nanoseconds(newValue) }
    }
    public var transfer: Duration? {
        get { Self.duration(self.transferNanoseconds) }
        set { self.transferNanoseconds = Self.nanoseconds(newValue) }
    }
    public var total: Duration {
        get { .nanoseconds(self.totalNanoseconds) }
        set { self.totalNanoseconds = Self.nanoseconds(newValue) }
    }

    public init(
        dns: Duration? = nil,
        connect: Duration? = nil,
        tls: Duration? = nil,
        processing: Duration? = nil,
        transfer: Duration? = nil,
        total: Duration = .zero
    ) {
        self.dns = dns
        self.connect = connect
        self.tls = tls
        self.processing = processing
        self.transfer = transfer
        self.total = total
    }

    private static func duration(_ nanoseconds: Int64) -> Duration? {
        nanoseconds < 0 ? nil : .nanoseconds(nanoseconds)
    }

    /// Whole nanoseconds, clamped to 0...Int64.max (a phase is never negative; a clock step back reads as 0).
    private static func nanoseconds(_ duration: Duration?) -> Int64 {
        guard let duration else { return -1 }
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .max }
        let (sum, overflowed) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflowed ? .max : sum
    }

    public subscript(phase: Phase) -> Duration? {
        switch phase {
        case .dns: return self.dns
        case .connect: return self.connect
        case .tls: return self.tls
        case .processing: return self.processing
        case .transfer: return self.transfer
        }
    }
}

extension PhaseTimings: Codable {
    private enum CodingKeys: String, CodingKey {
        case dns, connect, tls, processing, transfer, total
    }

    /// Stored as seconds (a Double each), the unit of every other duration authprobe writes.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func phase(_ key: CodingKeys) throws -> Duration? {
            try container.decodeIfPresent(Double.self, forKey: key).flatMap(Durations.duration(seconds:))
        }
        self.init(
            dns: try phase(.dns),
            connect: try phase(.connect),
            tls: try phase(.tls),
            processing: try phase(.processing),
            transfer: try phase(.transfer),
            total: try phase(.total) ?? .zero
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(self.dns.map(Durations.seconds), forKey: .dns)
        try container.encodeIfPresent(self.connect.map(Durations.seconds), forKey: .connect)
        try container.encodeIfPresent(self.tls.map(Durations.seconds), forKey: .tls)
        try container.encodeIfPresent(self.processing.map(Durations.seconds), forKey: .processing)
        try container.encodeIfPresent(self.transfer.map(Durations.seconds), forKey: .transfer)
        try container.encode(Durations.seconds(self.total), forKey: .total)
    }
}
