import Foundation

/// Everything authprobe knows about one environment×client target, reduced from its probe results.
///
/// The one place a target's state lives: the store persists it with the raw rows, the metrics render it, and
/// alerting reads it. It changes only through ``apply(_:)``, a pure function of the previous state and a result,
/// so a restart that restores it carries on exactly where the last run left off.
public struct TargetState: Sendable, Equatable, Codable {
    public var key: TargetKey
    /// One entry per step ever attempted.
    public var steps: StepMap<StepState>
    /// When the latest run started.
    public var lastRun: Date?
    /// Whether every step of the latest run succeeded.
    public var lastRunSucceeded: Bool
    /// `expires_in` of the latest issued token.
    public var tokenLifetime: Int?
    /// Whether the latest JWT access token's signature verified against the JWKS; nil for opaque tokens, when
    /// inspection is off and when the latest token request failed.
    public var tokenVerified: Bool?
    /// The latest key set seen, and when it last changed.
    public var jwks: JWKSState?
    /// Earliest `notAfter` of the verified chain, per step whose endpoint used TLS.
    public var tlsExpiry: StepMap<Date>
    /// The provider's clock minus ours, in seconds, from the latest step that could tell.
    public var clockSkew: Double?
    /// The specification rules the latest attempt of each step checked, and which it broke.
    public var conformance: StepMap<ConformanceReport>

    public init(key: TargetKey) {
        self.key = key
        self.steps = [:]
        self.lastRun = nil
        self.lastRunSucceeded = false
        self.tokenLifetime = nil
        self.tokenVerified = nil
        self.jwks = nil
        self.tlsExpiry = [:]
        self.clockSkew = nil
        self.conformance = [:]
    }

    /// True when the latest run succeeded and so did the latest attempt of every step: a run that skipped the
    /// token (not due yet) does not hide a broken credential.
    public var up: Bool {
        self.lastRunSucceeded && self.steps.values.allSatisfy { $0.outcome == .success }
    }

    /// The state with only `steps` kept: after a configuration change (an API check removed), a step that is no
    /// longer probed must not hold `up` at 0.
    public func keeping(steps: Set<Step>) -> TargetState {
        var state = self
        state.steps = state.steps.keeping(steps)
        state.conformance = state.conformance.keeping(steps)
        state.tlsExpiry = state.tlsExpiry.keeping(steps)
        if !steps.contains(.token) {
            state.tokenLifetime = nil
            state.tokenVerified = nil
        }
        return state
    }
}

/// The latest state of one step of one target.
public struct StepState: Sendable, Equatable, Codable {
    /// Outcome of the latest attempt.
    public var outcome: Outcome
    /// HTTP status of the latest attempt, when a response arrived.
    public var httpStatus: Int?
    /// When the run of the latest attempt started.
    public var lastAttempt: Date
    /// When the run of the latest successful attempt started.
    public var lastSuccess: Date?
    /// Failed attempts since the last success (all of them when there was none).
    public var consecutiveFailures: Int
    /// Phase timings of the latest attempt.
    public var timings: PhaseTimings
    /// False when the latest run failed before reaching this step: its outcome and timings are then history,
    /// not the step's present state. A step skipped because it was not due (the token between
    /// `token_interval`s) stays current.
    public var current: Bool

    public init(
        outcome: Outcome,
        httpStatus: Int? = nil,
        lastAttempt: Date,
        lastSuccess: Date? = nil,
        consecutiveFailures: Int = 0,
        timings: PhaseTimings = PhaseTimings(),
        current: Bool = true
    ) {
        self.outcome = outcome
        self.httpStatus = httpStatus
        self.lastAttempt = lastAttempt
        self.lastSuccess = lastSuccess
        self.consecutiveFailures = consecutiveFailures
        self.timings = timings
        self.current = current
    }
}

/// The latest JWKS of an environment as one target saw it.
public struct JWKSState: Sendable, Equatable, Codable {
    /// Number of keys published.
    public var keys: Int
    /// A fixed-size digest of the key ids, to notice rotations without keeping provider text; nil when not
    /// known (a state carried over from an older database).
    public var fingerprint: UInt64?
    /// When a run first saw the key set differ from the one before; nil until a rotation was seen.
    public var lastRotation: Date?

    public init(keys: Int, fingerprint: UInt64?, lastRotation: Date? = nil) {
        self.keys = keys
        self.fingerprint = fingerprint
        self.lastRotation = lastRotation
    }
}
