import Foundation

// What the evaluator keeps between results: per target a few counters and one small ring of time buckets, per
// environment counts of its targets. No text, no dates beyond a handful, nothing that grows with time.

extension AlertEvaluator {
    /// Everything the evaluator remembers about one target.
    struct TargetSlot: Sendable {
        /// The per-client alerts of this target that are firing, so that a healthy run looks nothing up.
        var firing = AlertMask()
        var token = TokenStreak()
        var budget = BudgetStreak()
        var window = TokenWindow()
        var lifetime = LifetimeTracker()
        var api = Streak()
        var provider = ProviderStreak()
        /// How close this target's earliest TLS certificate expiry is, as last counted in its environment.
        var tlsLevel: AlertSeverity?
    }

    /// The per-environment alerts' inputs: counts kept up to date by each target's transitions, so that no
    /// result walks the environment's targets.
    struct EnvironmentSlot: Sendable {
        /// Targets of this environment with a slot.
        var targets = 0
        /// Of those, how many are provider-down.
        var down = 0
        var providerFiring = false
        /// ProviderUnavailable was restored firing after a restart and has not resolved since: targets seen for
        /// the first time start provider-down and must show healthy runs before it resolves.
        var restoredOutage = false
        /// The latest provider failure of a provider-down target, for the alert's labels and description.
        var lastFailure: ProviderFailure?
        /// What the firing alert's description was last written from.
        var describedFailure: ProviderFailure?
        var describedDown = 0

        /// Targets whose earliest TLS certificate expiry is within the warning (not critical) threshold.
        var tlsWarning = 0
        /// Targets whose earliest TLS certificate expiry is within the critical threshold (or past).
        var tlsCritical = 0
        /// The severity TLSCertificateExpiringSoon fires at, nil when it does not.
        var tlsFiring: AlertSeverity?
        /// The earliest expiry seen at the firing severity, for the description...
        var tlsShown: TLSExpiry?
        /// ...and the one the description was last written from.
        var tlsDescribed: TLSExpiry?

        /// The severity the environment's TLS alert should have: the worst of its targets'.
        var tlsLevel: AlertSeverity? {
            self.tlsCritical > 0 ? .critical : self.tlsWarning > 0 ? .warning : nil
        }

        mutating func countTLS(_ level: AlertSeverity?, by delta: Int) {
            switch level {
            case .critical: self.tlsCritical += delta
            case .warning: self.tlsWarning += delta
            case nil: break
            }
        }
    }

    /// A provider-scoped failure of one run, as the ProviderUnavailable alert shows it.
    struct ProviderFailure: Sendable, Equatable {
        var step: Step
        var outcome: Outcome
        var httpStatus: Int16?

        var status: Int? { self.httpStatus.map(Int.init) }
    }

    /// An environment's earliest TLS certificate expiry as one target saw it.
    struct TLSExpiry: Sendable, Equatable {
        var target: TargetKey
        var step: Step
        var expiresAt: Date
    }

    /// Failures and successes in a row, saturating (a counter never traps, however long an outage lasts).
    struct Streak: Sendable {
        var failures: UInt16 = 0
        var successes: UInt16 = 0

        mutating func fail() {
            if self.failures < .max { self.failures += 1 }
            self.successes = 0
        }

        mutating func succeed() {
            if self.successes < .max { self.successes += 1 }
            self.failures = 0
        }
    }

    /// The token attempts in a row of one failure class, and the successes in a row.
    struct TokenStreak: Sendable {
        /// The class of the current run of failures; nil after a success.
        var failureClass: TokenFailureClass?
        var counts = Streak()
        /// The latest failed attempt's outcome and status (the error budget alert shows them).
        var lastFailure: Outcome?
        var lastStatus: Int16?

        mutating func record(_ step: StepResult) {
            guard let failureClass = TokenFailureClass(step.outcome) else {
                self.failureClass = nil
                self.counts.succeed()
                return
            }
            if failureClass != self.failureClass { self.counts.failures = 0 }
            self.failureClass = failureClass
            self.counts.fail()
            self.lastFailure = step.outcome
            self.lastStatus = step.httpStatus.flatMap(Int16.init(exactly:))
        }
    }

    /// Which streak alert a failed token attempt feeds.
    enum TokenFailureClass: UInt8, Sendable, CaseIterable {
        case credential, request, unknownKey, invalidSignature, other

        /// nil for a success.
        init?(_ outcome: Outcome) {
            switch outcome {
            case .success: return nil
            case .jwtUnknownKid: self = .unknownKey
            case .jwtInvalidSignature: self = .invalidSignature
            default:
                switch outcome.scope {
                case .credential: self = .credential
                case .request: self = .request
                default: self = .other
                }
            }
        }

        /// The alert a streak of this class raises, if any.
        var alert: AlertName? {
            switch self {
            case .credential: return .credentialRejected
            case .request: return .tokenRequestRejected
            case .unknownKey: return .jwksKeyMissing
            case .invalidSignature: return .signatureInvalid
            case .other: return nil
            }
        }

        static let alerting: [TokenFailureClass] = [.credential, .request, .unknownKey, .invalidSignature]
    }

    /// The current run of failed token attempts as the error budget sees it. Failures that a streak alert
    /// explains (CredentialRejected and its kind, or the target being provider-down) are taken out of the
    /// window: the budget is for failures that come and go, and one outage must not page once per client.
    struct BudgetStreak: Sendable {
        /// The bucket of its first failure...
        var startBucket: Int64 = 0
        /// Failures of the current run recorded in the window.
        var failures: UInt16 = 0
        /// ...and how many of its failures fell in that bucket (every attempt in later buckets is one of them).
        var startBucketFailures: UInt16 = 0
        /// A streak alert explains this run: its failures left the window and later ones are not counted.
        var explained = false

        mutating func add(bucket: Int64) {
            if self.failures == 0 {
                self.startBucket = bucket
                self.startBucketFailures = 0
            }
            if bucket == self.startBucket, self.startBucketFailures < .max { self.startBucketFailures += 1 }
            if self.failures < .max { self.failures += 1 }
        }
    }

    /// Whether the provider answered this target's runs: the input of ProviderUnavailable.
    struct ProviderStreak: Sendable {
        var runs = Streak()
        var down = false
    }

    /// `expires_in` against its baseline.
    struct LifetimeTracker: Sendable {
        /// The first lifetime seen (or the one that settled); nil until a token was issued, or after a restart
        /// with TokenLifetimeChanged firing (the old baseline is not known then).
        var baseline: Int32?
        var differing: UInt16 = 0
        var within: UInt16 = 0
        /// When tokens started differing from the baseline (for a restored alert: when it started firing).
        var differingSince: Date?
    }

    /// One bit per per-client alert name.
    struct AlertMask: Sendable {
        private var bits: UInt16 = 0

        func contains(_ name: AlertName) -> Bool { self.bits & Self.bit(name) != 0 }
        mutating func insert(_ name: AlertName) { self.bits |= Self.bit(name) }
        mutating func remove(_ name: AlertName) { self.bits &= ~Self.bit(name) }
        var isEmpty: Bool { self.bits == 0 }

        private static func bit(_ name: AlertName) -> UInt16 {
            switch name {
            case .credentialRejected: return 1 << 0
            case .tokenRequestRejected: return 1 << 1
            case .providerUnavailable: return 1 << 2
            case .tokenErrorBudget: return 1 << 3
            case .tokenLatencyHigh: return 1 << 4
            case .jwksKeyMissing: return 1 << 5
            case .signatureInvalid: return 1 << 6
            case .credentialExpiringSoon: return 1 << 7
            case .tlsCertificateExpiringSoon: return 1 << 8
            case .tokenLifetimeChanged: return 1 << 9
            case .apiFailing: return 1 << 10
            }
        }
    }
}

/// The time buckets of the token windows: the longest window (burn-rate long window or latency window) cut into
/// ``count`` buckets; the shorter windows are the latest whole buckets that cover them.
struct WindowShape: Sendable {
    static let count = 60
    /// Seconds per bucket.
    let width: Double
    let shortBuckets: Int
    let longBuckets: Int
    let latencyBuckets: Int

    init(_ thresholds: AlertThresholds) {
        let long = Durations.seconds(thresholds.longWindow)
        let latency = Durations.seconds(thresholds.latencyWindow)
        let width = max(long, latency, 1) / Double(Self.count)
        func buckets(_ window: Duration) -> Int {
            min(Self.count, max(1, Int((Durations.seconds(window) / width).rounded())))
        }
        self.width = width
        self.shortBuckets = buckets(thresholds.shortWindow)
        self.longBuckets = buckets(thresholds.longWindow)
        self.latencyBuckets = buckets(thresholds.latencyWindow)
    }

    func bucket(_ date: Date) -> Int64 {
        let index = (date.timeIntervalSince1970 / self.width).rounded(.down)
        guard index.isFinite, abs(index) < 1e15 else { return 0 }
        return Int64(index)
    }
}

/// Token attempts, failures and slow successes per time bucket, in a ring of ``WindowShape/count`` buckets
/// allocated on the first token attempt (a target without a token step has none).
struct TokenWindow: Sendable {
    struct Bucket: Sendable {
        var attempts: UInt16 = 0
        var failures: UInt16 = 0
        /// Successful attempts slower than the latency bound.
        var slow: UInt16 = 0
    }

    struct Sums: Sendable {
        var attempts = 0
        var failures = 0
        var slow = 0
        var successes: Int { self.attempts - self.failures }
    }

    private var buckets: [Bucket] = []
    /// The bucket number of the newest bucket held.
    private var newest: Int64 = 0

    private static func index(_ bucket: Int64) -> Int {
        let count = Int64(WindowShape.count)
        return Int(((bucket % count) + count) % count)
    }

    /// Moves the ring forward to `bucket`, emptying the buckets it passes.
    private mutating func advance(to bucket: Int64) {
        if self.buckets.isEmpty {
            self.buckets = Array(repeating: Bucket(), count: WindowShape.count)
            self.newest = bucket
            return
        }
        guard bucket > self.newest else { return }
        if bucket - self.newest >= Int64(WindowShape.count) {
            for index in self.buckets.indices { self.buckets[index] = Bucket() }
        } else {
            for passed in (self.newest + 1)...bucket { self.buckets[Self.index(passed)] = Bucket() }
        }
        self.newest = bucket
    }

    /// Counts one token attempt in `bucket` (dropped when older than the ring).
    mutating func record(bucket: Int64, failed: Bool, slow: Bool) {
        self.advance(to: bucket)
        guard bucket > self.newest - Int64(WindowShape.count) else { return }
        let index = Self.index(bucket)
        func bump(_ value: inout UInt16) { if value < .max { value += 1 } }
        bump(&self.buckets[index].attempts)
        if failed { bump(&self.buckets[index].failures) }
        if slow { bump(&self.buckets[index].slow) }
    }

    /// Takes a run of consecutive failures out of the window: `firstBucketFailures` of them in `start`, and every
    /// failure of the buckets after it (a success would have ended the run).
    mutating func remove(_ streak: AlertEvaluator.BudgetStreak) {
        guard !self.buckets.isEmpty, streak.failures > 0 else { return }
        let oldest = max(streak.startBucket, self.newest - Int64(WindowShape.count) + 1)
        guard oldest <= self.newest else { return }
        for bucket in oldest...self.newest {
            let index = Self.index(bucket)
            let failures = self.buckets[index].failures
            let removed = bucket == streak.startBucket ? min(streak.startBucketFailures, failures) : failures
            self.buckets[index].failures -= removed
            self.buckets[index].attempts -= min(removed, self.buckets[index].attempts)
        }
    }

    /// The sums of the latest `buckets` buckets up to the one of `now`.
    func sums(last buckets: Int, at now: Int64) -> Sums {
        var sums = Sums()
        guard !self.buckets.isEmpty else { return sums }
        let oldest = max(now - Int64(buckets) + 1, self.newest - Int64(WindowShape.count) + 1)
        let newest = min(now, self.newest)
        guard oldest <= newest else { return sums }
        for bucket in oldest...newest {
            let entry = self.buckets[Self.index(bucket)]
            sums.attempts += Int(entry.attempts)
            sums.failures += Int(entry.failures)
            sums.slow += Int(entry.slow)
        }
        return sums
    }
}
