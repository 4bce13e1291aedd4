import Foundation

/// When the built-in alerts fire and resolve: `alerting.rules` in the configuration. Defaults are what the README
/// documents; every value is checked by the parser (positive counts, windows, ordered thresholds).
public struct AlertThresholds: Sendable, Equatable {
    /// Token attempts in a row with a credential- (or request-) scoped outcome before CredentialRejected
    /// (TokenRequestRejected) fires: 2 means one rejected run between successes is a blip, not a page.
    public var confirmRuns = 2
    /// Runs in a row with a provider-scoped failure before ProviderUnavailable fires.
    public var providerFailures = 3
    /// API step attempts in a row failing before APIFailing fires.
    public var apiFailures = 3
    /// Successes in a row that resolve an alert raised by failures.
    public var resolveAfter = 2

    /// The token step's availability objective; the error budget is `1 - objective`.
    public var tokenObjective = 0.99
    /// How many times faster than the budget allows errors must come, in both windows, for TokenErrorBudget.
    public var burnRate = 14.4
    /// The short burn-rate window (fast to fire, fast to resolve).
    public var shortWindow: Duration = .seconds(300)
    /// The long burn-rate window (that the short one is not a blip).
    public var longWindow: Duration = .seconds(3600)

    /// TokenLatencyHigh: successful token requests slower than this bound...
    public var latencyBound: Duration = .seconds(2)
    /// ...at the 95th percentile over this window (and at least two of them, so one outlier never pages).
    public var latencyWindow: Duration = .seconds(600)

    /// Credential and TLS certificate expiries closer than this: warning.
    public var expiryWarning: Duration = .seconds(14 * 86_400)
    /// ...closer than this: critical.
    public var expiryCritical: Duration = .seconds(3 * 86_400)

    /// TokenLifetimeChanged: `expires_in` differing from the baseline by more than this fraction (and by more than
    /// a minute) on `confirmRuns` tokens in a row.
    public var lifetimeTolerance = 0.1
    /// A changed lifetime that stays this long becomes the new baseline, and the alert resolves.
    public var lifetimeSettle: Duration = .seconds(86_400)

    public init() {}

    /// The error ratio above which the budget burns too fast: `(1 - objective) × burnRate`.
    public var errorRatioThreshold: Double { (1 - self.tokenObjective) * self.burnRate }
}
