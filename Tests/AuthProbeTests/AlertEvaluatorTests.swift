import AuthProbe
import Foundation
import Testing

/// Results of one or more targets through the real reducer into one evaluator: what `observe` is called with in
/// the monitor, and the actions it returned.
struct AlertBench {
    var evaluator: AlertEvaluator
    var states: [TargetKey: TargetState] = [:]
    var expiries: [TargetKey: [(kind: CredentialKind, expiresAt: Date)]] = [:]

    init(_ thresholds: AlertThresholds = AlertThresholds(), firing: [ActiveAlert] = []) {
        self.evaluator = AlertEvaluator(thresholds: thresholds, firing: firing)
    }

    /// Observes `result` at its own start time unless `now` says otherwise.
    mutating func feed(_ result: ProbeResult, now: Date? = nil) -> [AlertAction] {
        let state = (self.states[result.target] ?? TargetState(key: result.target)).applying(result)
        self.states[result.target] = state
        return self.evaluator.observe(
            result,
            state: state,
            credentialExpiries: self.expiries[result.target] ?? [],
            now: now ?? result.startedAt
        )
    }

    /// Feeds every result and returns all the actions, in order.
    mutating func feed(_ results: [ProbeResult]) -> [AlertAction] {
        results.flatMap { self.feed($0) }
    }
}

/// Builders for the evaluator's tests: runs one minute apart from a fixed origin, statuses as providers send them.
enum AlertFixture {
    static let environment = "production"
    static let client = TargetKey(environment: "production", client: "reporting-service")

    static func target(_ client: String, environment: String = AlertFixture.environment) -> TargetKey {
        TargetKey(environment: environment, client: client)
    }

    /// The start of minute `minute` of a test.
    static func at(_ minute: Double) -> Date {
        Date(timeIntervalSince1970: 1_700_000_000 + minute * 60)
    }

    /// The status a provider sends with `outcome` (glewlwyd's 403 for a rejected credential).
    static func status(of outcome: Outcome) -> Int? {
        switch outcome {
        case .success, .jwtUnknownKid, .jwtInvalidSignature, .jwtClaimsInvalid: return 200
        case .credentialRejected, .apiRejected: return 403
        case .invalidClient: return 401
        case .invalidRequest, .unsupportedGrantType, .invalidGrant, .invalidScope, .unauthorizedClient: return 400
        case .http5xx: return 503
        case .apiError: return 500
        case .rateLimited: return 429
        default: return nil
        }
    }

    static func step(_ step: Step, _ outcome: Outcome = .success, ms: Int64 = 100, lifetime: Int? = 3600)
        -> StepResult
    {
        StepResult(
            step: step,
            outcome: outcome,
            httpStatus: self.status(of: outcome),
            timings: PhaseTimings(processing: .milliseconds(ms), total: .milliseconds(ms)),
            detail: "provider said: secret-ish text that must never reach an alert",
            tokenLifetime: step == .token && outcome == .success ? lifetime : nil,
            jwksKeys: step == .jwks && outcome == .success ? 2 : nil,
            notes: ["a provider note"]
        )
    }

    static func run(_ target: TargetKey = client, minute: Double, _ steps: StepResult...) -> ProbeResult {
        ProbeResult(target: target, startedAt: self.at(minute), steps: steps)
    }

    /// Discovery and JWKS succeed; the token step has `outcome`.
    static func token(
        _ outcome: Outcome = .success,
        _ target: TargetKey = client,
        minute: Double,
        ms: Int64 = 100,
        lifetime: Int? = 3600
    ) -> ProbeResult {
        self.run(
            target,
            minute: minute,
            self.step(.discovery),
            self.step(.jwks),
            self.step(.token, outcome, ms: ms, lifetime: lifetime)
        )
    }

    /// A run that failed at discovery (the later steps not attempted).
    static func discovery(_ outcome: Outcome, _ target: TargetKey = client, minute: Double) -> ProbeResult {
        self.run(target, minute: minute, self.step(.discovery, outcome))
    }

    /// A run in which the token was not due (between `token_interval`s).
    static func noToken(_ target: TargetKey = client, minute: Double) -> ProbeResult {
        self.run(target, minute: minute, self.step(.discovery), self.step(.jwks))
    }

    /// `fire CredentialRejected production/reporting-service critical`: what the expectations compare.
    static func describe(_ actions: [AlertAction]) -> [String] {
        actions.map { action in
            let kind: String
            switch action {
            case .fire: kind = "fire"
            case .remind: kind = "remind"
            case .resolve: kind = "resolve"
            }
            return "\(kind) \(action.alert.key) \(action.alert.severity.rawValue)"
        }
    }

    static func key(_ name: AlertName, _ target: TargetKey = client) -> AlertKey {
        AlertKey(name, environment: target.environment, client: target.client)
    }
}

/// The token streak alerts and APIFailing: event sequences in, actions out.
@Suite("Alert evaluator: token and API streaks")
struct AlertEvaluatorTests {
    typealias F = AlertFixture

    @Test("a credential rejected on two token attempts in a row fires once, critical, from the second result")
    func credentialRejectedFires() throws {
        var bench = AlertBench()
        #expect(bench.feed([F.token(minute: 0), F.token(.credentialRejected, minute: 1)]).isEmpty)
        let actions = bench.feed(F.token(.credentialRejected, minute: 2))
        #expect(F.describe(actions) == ["fire CredentialRejected production/reporting-service critical"])
        let alert = try #require(actions.first?.alert)
        #expect(alert.outcome == .credentialRejected)
        #expect(alert.httpStatus == 403)
        #expect(alert.startsAt == F.at(2))
        #expect(alert.endsAt == nil)
        #expect(alert.summary == "Credential reporting-service for production rejected")
        #expect(alert.description.contains("credential_rejected (HTTP 403) on 2 token attempts in a row"))
        #expect(!alert.description.contains("provider said") && !alert.description.contains("note"))
        #expect(bench.evaluator.alert(F.key(.credentialRejected)) == alert)
        // Still rejected: no new action, whatever the outcome turns into.
        #expect(bench.feed([F.token(.invalidClient, minute: 3), F.token(.credentialRejected, minute: 4)]).isEmpty)
        #expect(bench.evaluator.alert(F.key(.credentialRejected))?.outcome == .credentialRejected)
        #expect(bench.evaluator.alert(F.key(.credentialRejected))?.startsAt == F.at(2))
    }

    @Test("one rejected run between successes is a blip: no action at all")
    func credentialBlip() {
        var bench = AlertBench()
        // Early, while the windows hold few attempts: 1 failure in 5 is over the budget's ratio, but one
        // failure never pages.
        var results = (0..<3).map { F.token(minute: Double($0)) }
        results.append(F.token(.credentialRejected, minute: 3))
        results += (4..<20).map { F.token(minute: Double($0)) }
        #expect(bench.feed(results).isEmpty)
        #expect(bench.evaluator.firing.isEmpty)
    }

    @Test("a token step absent from a run (not due, not reached) neither counts nor breaks the streak")
    func absentTokenStep() {
        var bench = AlertBench()
        let notDue = bench.feed([F.token(.invalidClient, minute: 0), F.noToken(minute: 1)])
        #expect(notDue.isEmpty)
        #expect(
            F.describe(bench.feed(F.token(.invalidClient, minute: 2))) == [
                "fire CredentialRejected production/reporting-service critical"
            ]
        )

        var other = AlertBench()
        let notReached = other.feed([
            F.token(.invalidClient, minute: 0),
            F.discovery(.connectRefused, minute: 1),
            F.token(.invalidClient, minute: 2),
        ])
        #expect(F.describe(notReached) == ["fire CredentialRejected production/reporting-service critical"])

        var broken = AlertBench()
        #expect(
            broken.feed([F.token(.invalidClient, minute: 0), F.token(minute: 1), F.token(.invalidClient, minute: 2)])
                .isEmpty
        )
    }

    @Test("authprobe's own failure at the token step neither counts nor breaks the streak")
    func ownFailure() {
        var bench = AlertBench()
        let actions = bench.feed([
            F.token(.credentialRejected, minute: 0),
            F.token(.localResourceExhausted, minute: 1),
            F.token(.localResourceExhausted, minute: 2),
            F.token(.localResourceExhausted, minute: 3),
            F.token(.credentialRejected, minute: 4),
        ])
        #expect(F.describe(actions) == ["fire CredentialRejected production/reporting-service critical"])
    }

    @Test("a rejected credential resolves after two token successes in a row, endsAt the result's time")
    func credentialResolves() throws {
        var bench = AlertBench()
        _ = bench.feed([F.token(.credentialRejected, minute: 0), F.token(.credentialRejected, minute: 1)])
        #expect(bench.feed([F.token(minute: 2), F.token(.credentialRejected, minute: 3), F.token(minute: 4)]).isEmpty)
        let actions = bench.feed(F.token(minute: 5))
        #expect(F.describe(actions) == ["resolve CredentialRejected production/reporting-service critical"])
        let resolved = try #require(actions.first?.alert)
        #expect(resolved.startsAt == F.at(1))
        #expect(resolved.endsAt == F.at(5))
        #expect(bench.evaluator.firing.isEmpty)
        #expect(bench.feed(F.token(minute: 6)).isEmpty)
    }

    @Test("request-scoped outcomes raise TokenRequestRejected; classes taking turns raise neither, only the budget")
    func requestRejected() {
        var bench = AlertBench()
        let actions = bench.feed([F.token(.unsupportedGrantType, minute: 0), F.token(.invalidRequest, minute: 1)])
        #expect(F.describe(actions) == ["fire TokenRequestRejected production/reporting-service critical"])
        #expect(bench.evaluator.alert(F.key(.tokenRequestRejected))?.outcome == .invalidRequest)
        #expect(bench.evaluator.alert(F.key(.tokenRequestRejected))?.httpStatus == 400)

        var mixed = AlertBench()
        let mixedActions = mixed.feed([
            F.token(.invalidClient, minute: 0),
            F.token(.unsupportedGrantType, minute: 1),
        ])
        #expect(mixedActions.isEmpty)
        // Three failures in a row that no streak alert explains: the error budget catches them.
        #expect(
            F.describe(mixed.feed(F.token(.invalidClient, minute: 2))) == [
                "fire TokenErrorBudget production/reporting-service critical"
            ]
        )
    }

    @Test(
        "an unknown kid or a bad signature on two token attempts raises its own alert, never ProviderUnavailable",
        arguments: [
            (Outcome.jwtUnknownKid, AlertName.jwksKeyMissing),
            (Outcome.jwtInvalidSignature, AlertName.signatureInvalid),
        ]
    )
    func issuedTokenAlerts(outcome: Outcome, name: AlertName) {
        var bench = AlertBench()
        #expect(bench.feed(F.token(outcome, minute: 0)).isEmpty)
        let fired = bench.feed(F.token(outcome, minute: 1))
        #expect(F.describe(fired) == ["fire \(name.rawValue) production/reporting-service critical"])
        #expect(fired.first?.alert.outcome == outcome)
        #expect(bench.feed((2..<8).map { F.token(outcome, minute: Double($0)) }).isEmpty)
        #expect(bench.feed(F.token(minute: 8)).isEmpty)
        #expect(
            F.describe(bench.feed(F.token(minute: 9))) == [
                "resolve \(name.rawValue) production/reporting-service critical"
            ]
        )
    }

    @Test("APIFailing fires on the third failed API check, not the second, and resolves after two successes")
    func apiFailing() throws {
        var bench = AlertBench()
        func api(_ outcome: Outcome, minute: Double) -> ProbeResult {
            F.run(
                minute: minute,
                F.step(.discovery),
                F.step(.jwks),
                F.step(.token),
                F.step(.api, outcome)
            )
        }
        #expect(bench.feed([api(.apiError, minute: 0), api(.apiError, minute: 1)]).isEmpty)
        let fired = bench.feed(api(.apiRejected, minute: 2))
        #expect(F.describe(fired) == ["fire APIFailing production/reporting-service critical"])
        let alert = try #require(fired.first?.alert)
        #expect(alert.outcome == .apiRejected)
        #expect(alert.httpStatus == 403)
        #expect(alert.scope == .api)
        // A token run without the API step neither counts nor breaks; the API host's connection failures are the
        // API's, not the identity provider's.
        #expect(
            bench.feed([
                F.token(minute: 3), api(.connectRefused, minute: 4), api(.connectRefused, minute: 5),
                api(.connectRefused, minute: 6), api(.success, minute: 7),
            ]).isEmpty
        )
        #expect(bench.evaluator.alert(F.key(.apiFailing))?.outcome == .connectRefused)
        #expect(
            F.describe(bench.feed(api(.success, minute: 8))) == [
                "resolve APIFailing production/reporting-service critical"
            ]
        )
    }
}
