import AuthProbe
import Foundation
import Testing

/// ProviderUnavailable (one per environment) and TokenErrorBudget (failures that come and go).
@Suite("Alert evaluator: provider outages and the error budget")
struct AlertEvaluatorProviderTests {
    typealias F = AlertFixture

    static let clients = ["billing", "reporting-service", "search"].map { F.target($0) }

    @Test("glewlwyd down (discovery connect_refused for every client of an environment) gives ONE alert")
    func outageOfAnEnvironment() throws {
        var bench = AlertBench()
        var actions: [AlertAction] = []
        for round in 0..<6 {
            for (index, client) in Self.clients.enumerated() {
                actions += bench.feed(F.discovery(.connectRefused, client, minute: Double(round) + Double(index) / 10))
            }
        }
        #expect(F.describe(actions) == ["fire ProviderUnavailable production critical"])
        let alert = try #require(bench.evaluator.alert(AlertKey(.providerUnavailable, environment: "production")))
        #expect(alert.startsAt == F.at(2), "the first client's third failed run")
        #expect(alert.outcome == .connectRefused)
        #expect(alert.httpStatus == nil)
        #expect(alert.key.client == "")
        #expect(alert.summary == "Identity provider production unavailable")
        #expect(alert.description.contains("discovery failed with connect_refused (no HTTP response)"))
        #expect(alert.description.contains("3 of 3 targets provider-down"))
        #expect(bench.evaluator.firing.count == 1)

        // Back: the alert resolves when the last client has had two healthy runs, once.
        var recovery: [AlertAction] = []
        var resolvedAt: [String] = []
        for round in 6..<9 {
            for (index, client) in Self.clients.enumerated() {
                let result = F.token(.success, client, minute: Double(round) + Double(index) / 10)
                let step = bench.feed(result)
                if !step.isEmpty { resolvedAt.append("\(round) \(client.client)") }
                recovery += step
            }
        }
        #expect(F.describe(recovery) == ["resolve ProviderUnavailable production critical"])
        #expect(resolvedAt == ["7 search"])
        #expect(recovery.first?.alert.endsAt == F.at(7.2))
    }

    @Test("the alert stays while any target is provider-down, and follows that target's latest failure")
    func staysWhileAnyIsDown() {
        var bench = AlertBench()
        let (billing, search) = (Self.clients[0], Self.clients[2])
        var actions: [AlertAction] = []
        for minute in 0..<3 {
            actions += bench.feed(F.discovery(.connectTimeout, billing, minute: Double(minute)))
            actions += bench.feed(F.discovery(.connectTimeout, search, minute: Double(minute)))
        }
        #expect(F.describe(actions) == ["fire ProviderUnavailable production critical"])
        // billing recovers; search now gets 502s from a proxy in front of discovery.
        for minute in 3..<5 {
            #expect(bench.feed(F.token(.success, billing, minute: Double(minute))).isEmpty)
            #expect(bench.feed(F.discovery(.http5xx, search, minute: Double(minute))).isEmpty)
        }
        let key = AlertKey(.providerUnavailable, environment: "production")
        #expect(bench.evaluator.alert(key)?.outcome == .http5xx)
        #expect(bench.evaluator.alert(key)?.httpStatus == 503)
        #expect(bench.evaluator.alert(key)?.description.contains("1 of 2 targets provider-down") == true)
        #expect(bench.feed(F.token(.success, search, minute: 5)).isEmpty)
        let resolved = bench.feed(F.token(.success, search, minute: 6))
        #expect(F.describe(resolved) == ["resolve ProviderUnavailable production critical"])
    }

    @Test("two failed runs, a healthy one, two failed: the streak broke, no alert")
    func brokenStreak() {
        var bench = AlertBench()
        let actions = bench.feed([
            F.discovery(.dnsError, minute: 0), F.discovery(.dnsError, minute: 1), F.token(minute: 2),
            F.discovery(.dnsError, minute: 3), F.discovery(.dnsError, minute: 4),
        ])
        #expect(actions.isEmpty)
        #expect(
            F.describe(bench.feed(F.discovery(.dnsError, minute: 5))) == [
                "fire ProviderUnavailable production critical"
            ]
        )
    }

    @Test("authprobe out of file descriptors neither counts for nor against the provider")
    func ownFailureIsNeutral() {
        var bench = AlertBench()
        let actions = bench.feed([
            F.discovery(.timeout, minute: 0), F.discovery(.localResourceExhausted, minute: 1),
            F.discovery(.timeout, minute: 2), F.discovery(.localResourceExhausted, minute: 3),
        ])
        #expect(actions.isEmpty)
        #expect(
            F.describe(bench.feed(F.discovery(.timeout, minute: 4))) == [
                "fire ProviderUnavailable production critical"
            ]
        )
    }

    @Test("token http_5xx with healthy discovery is a provider outage, and the error budget stays quiet")
    func tokenServerErrors() throws {
        var bench = AlertBench()
        var actions = bench.feed((0..<10).map { F.token(minute: Double($0)) })
        actions += bench.feed([F.token(.http5xx, minute: 10), F.token(.http5xx, minute: 11)])
        #expect(actions.isEmpty)
        let fired = bench.feed(F.token(.http5xx, minute: 12))
        #expect(F.describe(fired) == ["fire ProviderUnavailable production critical"])
        let alert = try #require(fired.first?.alert)
        #expect(alert.outcome == .http5xx)
        #expect(alert.httpStatus == 503)
        #expect(alert.description.contains("token failed with http_5xx (HTTP 503)"))
        // Half an hour of it, then recovery: one resolve, no TokenErrorBudget during or after.
        var later = bench.feed((13..<45).map { F.token(.http5xx, minute: Double($0)) })
        later += bench.feed((45..<80).map { F.token(minute: Double($0)) })
        #expect(F.describe(later) == ["resolve ProviderUnavailable production critical"])
        #expect(later.first?.alert.endsAt == F.at(46))
    }

    @Test(
        "a token step failing every other run burns the error budget: TokenErrorBudget, never the streak alerts",
        arguments: [Outcome.invalidClient, .credentialRejected, .http5xx, .timeout, .jwtUnknownKid]
    )
    func intermittentFailures(outcome: Outcome) throws {
        var bench = AlertBench()
        var actions: [AlertAction] = []
        var firedAt: [Int] = []
        for minute in 0..<60 {
            let step = bench.feed(F.token(minute % 2 == 1 ? outcome : .success, minute: Double(minute)))
            if !step.isEmpty { firedAt.append(minute) }
            actions += step
        }
        #expect(F.describe(actions) == ["fire TokenErrorBudget production/reporting-service critical"])
        #expect(firedAt == [4], "the first success with three attempts and two failures in the short window")
        let alert = try #require(actions.first?.alert)
        #expect(alert.outcome == outcome)
        #expect(alert.startsAt == F.at(4))
        #expect(alert.scope == .provider)
        #expect(alert.description.contains("2 of 5 token requests failed in the last 5m"))
        #expect(alert.description.contains("above 14.4 %"))

        // Healthy again: not after two successes (the short window still holds failures), but once it is clean.
        var recovery: [AlertAction] = []
        var resolvedAt: [Int] = []
        for minute in 60..<70 {
            let step = bench.feed(F.token(minute: Double(minute)))
            if !step.isEmpty { resolvedAt.append(minute) }
            recovery += step
        }
        #expect(F.describe(recovery) == ["resolve TokenErrorBudget production/reporting-service critical"])
        #expect(resolvedAt == [64], "minute 59's failure leaves the five-minute window at minute 64")
    }

    @Test("a credential revoked for twenty minutes pages once (CredentialRejected), not again from the budget")
    func revokedCredentialPagesOnce() {
        var bench = AlertBench()
        var results = (0..<10).map { F.token(minute: Double($0)) }
        results += (10..<30).map { F.token(.invalidClient, minute: Double($0)) }
        results += (30..<90).map { F.token(minute: Double($0)) }
        #expect(
            F.describe(bench.feed(results)) == [
                "fire CredentialRejected production/reporting-service critical",
                "resolve CredentialRejected production/reporting-service critical",
            ]
        )
    }

    @Test(
        "a short outage pages once from its streak alert, and its failures do not burn the budget after recovery",
        arguments: [
            (Outcome.http5xx, "ProviderUnavailable production"),
            (.credentialRejected, "CredentialRejected production/reporting-service"),
            (.jwtInvalidSignature, "SignatureInvalid production/reporting-service"),
        ]
    )
    func shortOutage(outcome: Outcome, alert: String) {
        var bench = AlertBench()
        var results = (0..<5).map { F.token(minute: Double($0)) }
        results += (5..<8).map { F.token(outcome, minute: Double($0)) }
        results += (8..<30).map { F.token(minute: Double($0)) }
        #expect(F.describe(bench.feed(results)) == ["fire \(alert) critical", "resolve \(alert) critical"])
    }

    @Test("a blip every ten minutes stays under the budget")
    func sparseBlips() {
        var bench = AlertBench()
        let results = (0..<120).map { F.token($0 % 10 == 9 ? .http5xx : .success, minute: Double($0)) }
        #expect(bench.feed(results).isEmpty)
    }

    @Test("failures no streak alert explains (classes taking turns) burn the budget without a success between")
    func unexplainedStreak() throws {
        var bench = AlertBench()
        var actions = bench.feed((0..<5).map { F.token(minute: Double($0)) })
        actions += bench.feed([F.token(.invalidClient, minute: 5), F.token(.http5xx, minute: 6)])
        #expect(actions.isEmpty)
        let fired = bench.feed(F.token(.invalidClient, minute: 7))
        #expect(F.describe(fired) == ["fire TokenErrorBudget production/reporting-service critical"])
        #expect(fired.first?.alert.outcome == .invalidClient)
        #expect(fired.first?.alert.description.contains("3 of 5 token requests failed") == true)
    }
}
