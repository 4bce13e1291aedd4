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
