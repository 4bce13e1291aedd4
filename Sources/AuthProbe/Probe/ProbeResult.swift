import Foundation

/// One request of a probe run.
public enum Step: String, Sendable, CaseIterable, Codable {
    case discovery, jwks, token, api
}

/// Part of one request's latency.
public enum Phase: String, Sendable, CaseIterable {
    case dns, connect, tls, processing, transfer
}

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

/// The result of one step: what happened, how long it took, and a sanitized explanation.
public struct StepResult: Sendable {
    public var step: Step
    public var outcome: Outcome
    /// HTTP status, when a response arrived.
    public var httpStatus: Int?
    public var timings: PhaseTimings
    /// Free text for logs and the store; never contains a secret, a token or a header value.
    public var detail: String
    /// `expires_in` of the issued token (token step).
    public var tokenLifetime: Int?
    /// Number of keys in the JWKS (jwks step).
    public var jwksKeys: Int?
    /// The provider asked us to wait this long (`Retry-After` on 429/503).
    public var retryAfter: Duration?
    /// `notAfter` of the endpoint's TLS certificate, when the step used TLS.
    public var tlsCertificateExpiry: Date?
    /// The provider's clock minus ours, in seconds: from the issued JWT's `iat` (token step), else from the
    /// response's `Date` header.
    public var clockSkew: Double?
    /// Token step with a JWT access token: whether its signature was verified against the JWKS (false when no
    /// published key could be used). nil for opaque tokens and when inspection is turned off.
    public var tokenVerified: Bool?
    /// Identity of the key set (its sorted key ids) of a JWKS step, to notice rotations.
    public var jwksFingerprint: String?
    /// The specification checks this step made and the provider's violations.
    public var conformance = ConformanceReport()
    /// Harmless deviations from the specifications noticed on the way (lowercase token type, string `expires_in`).
    public var notes: [String]

    public init(
        step: Step,
        outcome: Outcome,
        httpStatus: Int? = nil,
        timings: PhaseTimings = PhaseTimings(),
        detail: String = "",
        tokenLifetime: Int? = nil,
        jwksKeys: Int? = nil,
        retryAfter: Duration? = nil,
        notes: [String] = []
    ) {
        self.step = step
        self.outcome = outcome
        self.httpStatus = httpStatus
        self.timings = timings
        self.detail = detail
        self.tokenLifetime = tokenLifetime
        self.jwksKeys = jwksKeys
        self.retryAfter = retryAfter
        self.notes = notes
    }

    public var succeeded: Bool { self.outcome == .success }
}

/// One attempt of discovery → JWKS → token for one environment×client. A value, never an error:
/// steps after a failed one are not attempted and so are absent.
public struct ProbeResult: Sendable {
    public var target: TargetKey
    /// When the run started.
    public var startedAt: Date
    /// The steps that were attempted, in order.
    public var steps: [StepResult]

    public init(target: TargetKey, startedAt: Date, steps: [StepResult]) {
        self.target = target
        self.startedAt = startedAt
        self.steps = steps
    }

    /// True when every step of the run was attempted and succeeded.
    public var succeeded: Bool { !self.steps.isEmpty && self.steps.allSatisfy(\.succeeded) }

    /// The first failed step, if any.
    public var failure: StepResult? { self.steps.first { !$0.succeeded } }
}
