import Foundation

/// The alerts authprobe raises itself. The raw value is the `alertname` label; each alert has one `scope` (who is
/// paged) and a runbook section in the README.
public enum AlertName: String, Sendable, CaseIterable, Codable, Comparable {
    /// A credential-scoped token outcome (revoked, rotated, disabled) on consecutive token attempts.
    case credentialRejected = "CredentialRejected"
    /// A request-scoped token outcome (grant type or parameters refused) on consecutive token attempts.
    case tokenRequestRejected = "TokenRequestRejected"
    /// Provider-scoped failures on consecutive runs: one alert per environment.
    case providerUnavailable = "ProviderUnavailable"
    /// The token step's error ratio above the budget in a short and a long window (multi-window burn rate).
    case tokenErrorBudget = "TokenErrorBudget"
    /// Successful token requests slower than a bound (p95 over a window).
    case tokenLatencyHigh = "TokenLatencyHigh"
    /// The issued token names a key the JWKS does not publish.
    case jwksKeyMissing = "JWKSKeyMissing"
    /// The issued token's signature does not verify against the JWKS.
    case signatureInvalid = "SignatureInvalid"
    /// A configured credential expiry (secret, certificate, key) is near.
    case credentialExpiringSoon = "CredentialExpiringSoon"
    /// The earliest TLS certificate expiry of an environment's endpoints is near.
    case tlsCertificateExpiringSoon = "TLSCertificateExpiringSoon"
    /// `expires_in` moved away from its stable baseline (a provider policy change).
    case tokenLifetimeChanged = "TokenLifetimeChanged"
    /// The protected API step failing on consecutive runs.
    case apiFailing = "APIFailing"

    /// Who has to act: the `scope` label, for routing.
    public var scope: AlertScope {
        switch self {
        case .credentialRejected, .credentialExpiringSoon: return .credential
        case .tokenRequestRejected, .tokenLifetimeChanged: return .request
        case .apiFailing: return .api
        case .providerUnavailable, .tokenErrorBudget, .tokenLatencyHigh, .jwksKeyMissing, .signatureInvalid,
            .tlsCertificateExpiringSoon:
            return .provider
        }
    }

    /// True for alerts about an environment as a whole (their `client` label is empty).
    public var isPerEnvironment: Bool {
        switch self {
        case .providerUnavailable, .tlsCertificateExpiringSoon: return true
        default: return false
        }
    }

    /// The README section with what to do (a GitHub anchor of the heading `Alert: <name>`).
    public var runbookAnchor: String { "alert-\(self.rawValue.lowercased())" }

    public static func < (lhs: AlertName, rhs: AlertName) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The `scope` label of an alert: which owner it routes to.
public enum AlertScope: String, Sendable, Codable {
    case credential, provider, request, api
}

public enum AlertSeverity: String, Sendable, Codable, Comparable {
    case warning, critical

    public static func < (lhs: AlertSeverity, rhs: AlertSeverity) -> Bool {
        lhs == .warning && rhs == .critical
    }
}

/// Identifies one alert instance: a name and a target (the client is empty for per-environment alerts).
public struct AlertKey: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var name: AlertName
    public var environment: String
    public var client: String

    public init(_ name: AlertName, environment: String, client: String = "") {
        self.name = name
        self.environment = environment
        self.client = name.isPerEnvironment ? "" : client
    }

    public static func < (lhs: AlertKey, rhs: AlertKey) -> Bool {
        (lhs.environment, lhs.client, lhs.name) < (rhs.environment, rhs.client, rhs.name)
    }

    public var description: String {
        self.client.isEmpty
            ? "\(self.name.rawValue) \(self.environment)" : "\(self.name.rawValue) \(self.environment)/\(self.client)"
    }
}

/// One firing alert, as it is stored, sent and listed. Holds only bounded, secret-free values: outcome names,
/// statuses, numbers and text authprobe wrote.
public struct ActiveAlert: Sendable, Equatable, Codable {
    public var key: AlertKey
    public var severity: AlertSeverity
    /// The outcome that raised it (its latest, while firing), when one did.
    public var outcome: Outcome?
    /// The HTTP status of that outcome, when a response arrived.
    public var httpStatus: Int?
    /// One line: what is wrong, where.
    public var summary: String
    /// What was seen: outcome, status, counts, thresholds.
    public var description: String
    /// When it started firing; kept across restarts and re-sends.
    public var startsAt: Date
    /// When it resolved (set on the resolve action only).
    public var endsAt: Date?

    public init(
        key: AlertKey,
        severity: AlertSeverity,
        outcome: Outcome? = nil,
        httpStatus: Int? = nil,
        summary: String,
        description: String,
        startsAt: Date,
        endsAt: Date? = nil
    ) {
        self.key = key
        self.severity = severity
        self.outcome = outcome
        self.httpStatus = httpStatus
        self.summary = summary
        self.description = description
        self.startsAt = startsAt
        self.endsAt = endsAt
    }

    public var scope: AlertScope { self.key.name.scope }
}

/// What the evaluator decided after a result or a tick; the notifiers turn each into deliveries.
public enum AlertAction: Sendable, Equatable {
    /// A new alert (or the same alert at another severity: the old one is resolved first).
    case fire(ActiveAlert)
    /// Still firing, the repeat interval has passed: remind the receivers that want reminders.
    case remind(ActiveAlert)
    /// Resolved, with `endsAt` set.
    case resolve(ActiveAlert)

    public var alert: ActiveAlert {
        switch self {
        case .fire(let alert), .remind(let alert), .resolve(let alert): return alert
        }
    }
}
