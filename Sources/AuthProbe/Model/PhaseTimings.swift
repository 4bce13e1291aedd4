/// Where the time of one request went. Phases that did not happen (TLS on plain HTTP, anything after a
/// failure) are nil; DNS is zero for an IP literal. A completed request's phases are contiguous and add up
/// to `total`, which runs from the lookup to the body's end; a failed one's `total` is the attempt's wall time.
public struct PhaseTimings: Sendable, Equatable {
    public var dns: Duration?
    public var connect: Duration?
    public var tls: Duration?
    public var processing: Duration?
    public var transfer: Duration?
    public var total: Duration

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
