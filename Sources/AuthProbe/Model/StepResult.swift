import Foundation

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
    /// Identity of the key set of a JWKS step (a fixed-size digest of its sorted key ids), to notice rotations.
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

extension StepResult {
    /// The most a detail (or a detail with its notes) takes in the store, the log and `probe` output.
    public static let maxDetailBytes = 512

    /// The detail followed by the notes in brackets, as the store, the `probe` table and the log keep it, cut to
    /// ``maxDetailBytes``.
    public var summary: String {
        Self.capped(self.notes.isEmpty ? self.detail : "\(self.detail) [\(self.notes.joined(separator: "; "))]")
    }

    /// `text` cut to at most `bytes` UTF-8 bytes on a character boundary, an ellipsis marking the cut.
    public static func capped(_ text: String, bytes: Int = StepResult.maxDetailBytes) -> String {
        guard text.utf8.count > bytes else { return text }
        let ellipsis = "…"
        var kept = 0
        var end = text.startIndex
        for index in text.indices {
            let next = text.index(after: index)
            let width = text.utf8.distance(from: index, to: next)
            guard kept + width + ellipsis.utf8.count <= bytes else { break }
            kept += width
            end = next
        }
        return String(text[..<end]) + ellipsis
    }
}
