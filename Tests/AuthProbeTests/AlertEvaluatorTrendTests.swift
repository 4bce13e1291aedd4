import AuthProbe
import Foundation
import Testing

/// TokenLatencyHigh, TokenLifetimeChanged and the two expiry alerts: values drifting over time.
@Suite("Alert evaluator: latency, lifetime and expiries")
struct AlertEvaluatorTrendTests {
    typealias F = AlertFixture

    @Test("1.2 s token requests never fire a 2 s bound, nor do failures that took long")
    func belowTheBound() {
        var bench = AlertBench()
        var results = (0..<30).map { F.token(minute: Double($0), ms: 1200) }
        results.append(F.token(.timeout, minute: 30, ms: 10_000))
        results.append(F.token(.timeout, minute: 31, ms: 10_000))
        results += (32..<40).map { F.token(minute: Double($0), ms: 1999) }
        let actions = bench.feed(results)
        #expect(!actions.contains { $0.alert.key.name == .tokenLatencyHigh })
    }

    @Test("one slow outlier never pages")
    func oneOutlier() {
        var bench = AlertBench()
        let results = (0..<30).map { F.token(minute: Double($0), ms: $0 == 12 ? 9000 : 150) }
        #expect(bench.feed(results).isEmpty)
    }

    @Test("two slow requests among fewer than forty fire a warning; it resolves when they leave the window")
    func slowRequests() throws {
        var bench = AlertBench()
        #expect(bench.feed((0..<8).map { F.token(minute: Double($0), ms: 150) }).isEmpty)
        #expect(bench.feed(F.token(minute: 8, ms: 2500)).isEmpty)
        let fired = bench.feed(F.token(minute: 9, ms: 3100))
        #expect(F.describe(fired) == ["fire TokenLatencyHigh production/reporting-service warning"])
        let alert = try #require(fired.first?.alert)
        #expect(alert.startsAt == F.at(9))
        #expect(alert.outcome == nil)
        #expect(alert.description.hasPrefix("2 of 10 successful token requests in the last 10m took longer than 2s"))
        var resolvedAt: [Int] = []
        for minute in 10..<25 where !bench.feed(F.token(minute: Double(minute), ms: 150)).isEmpty {
            resolvedAt.append(minute)
        }
        #expect(resolvedAt == [18], "minute 8's slow request leaves the ten-minute window at minute 18")
    }

    @Test("expires_in halved on two tokens in a row fires; two tokens back at the baseline resolve")
    func lifetimeChanged() throws {
        var bench = AlertBench()
        let before = bench.feed([
            F.token(minute: 0, lifetime: 3600), F.token(minute: 1, lifetime: 3590), F.token(minute: 2, lifetime: 3900),
            F.token(.http5xx, minute: 3), F.token(minute: 4, lifetime: 1800),
        ])
        #expect(before.isEmpty, "within 10 % is no change, and a failed request is no token")
        let fired = bench.feed(F.token(minute: 5, lifetime: 1800))
        #expect(F.describe(fired) == ["fire TokenLifetimeChanged production/reporting-service warning"])
        let alert = try #require(fired.first?.alert)
        #expect(alert.description.hasPrefix("expires_in 1800 s on 2 tokens in a row, baseline 3600 s"))
        #expect(alert.scope == .request)
        #expect(bench.feed(F.token(minute: 6, lifetime: 3600)).isEmpty)
        #expect(
            F.describe(bench.feed(F.token(minute: 7, lifetime: 3600))) == [
                "resolve TokenLifetimeChanged production/reporting-service warning"
            ]
        )
    }

    @Test("a small baseline still needs more than a minute of difference")
    func lifetimeMinimumDifference() {
        var bench = AlertBench()
        let actions = bench.feed((0..<5).map { F.token(minute: Double($0), lifetime: $0 == 0 ? 300 : 350) })
        #expect(actions.isEmpty)
        #expect(!bench.feed([F.token(minute: 5, lifetime: 400), F.token(minute: 6, lifetime: 400)]).isEmpty)
    }

    @Test("a new lifetime that stays for lifetime_settle becomes the baseline and resolves the alert")
    func lifetimeSettles() {
        var thresholds = AlertThresholds()
        thresholds.lifetimeSettle = .seconds(3600)
        var bench = AlertBench(thresholds)
        var actions = bench.feed(F.token(minute: 0, lifetime: 3600))
        var log: [String] = []
        for minute in stride(from: 10, through: 90, by: 10) {
            actions = bench.feed(F.token(minute: Double(minute), lifetime: 7200))
            log += F.describe(actions).map { "\(minute) \($0)" }
        }
        #expect(
            log == [
                "20 fire TokenLifetimeChanged production/reporting-service warning",
                "70 resolve TokenLifetimeChanged production/reporting-service warning",
            ]
        )
        // 7200 is the baseline now: going back to 3600 is a change again.
        actions = bench.feed([F.token(minute: 100, lifetime: 3600), F.token(minute: 110, lifetime: 3600)])
        #expect(F.describe(actions) == ["fire TokenLifetimeChanged production/reporting-service warning"])
    }

    @Test("a credential expiry escalates from warning to critical: resolve the warning, fire the critical")
    func credentialExpiryEscalates() throws {
        var bench = AlertBench()
        let expiry = F.at(0).addingTimeInterval(10 * 86_400)
        bench.expiries[F.client] = [(.certificate, expiry.addingTimeInterval(86_400)), (.secret, expiry)]
        let warned = bench.feed(F.token(minute: 0))
        #expect(F.describe(warned) == ["fire CredentialExpiringSoon production/reporting-service warning"])
        let warning = try #require(warned.first?.alert)
        #expect(warning.startsAt == F.at(0))
        #expect(warning.description.contains("The client secret expires at \(expiry.ISO8601Format())"))
        #expect(bench.feed(F.token(minute: 1)).isEmpty)

        let later = expiry.addingTimeInterval(-2 * 86_400)
        let escalated = bench.feed(F.token(minute: 2), now: later)
        #expect(
            F.describe(escalated) == [
                "resolve CredentialExpiringSoon production/reporting-service warning",
                "fire CredentialExpiringSoon production/reporting-service critical",
            ]
        )
        #expect(escalated.first?.alert.endsAt == later)
        #expect(escalated.last?.alert.startsAt == later)
        #expect(bench.evaluator.alert(F.key(.credentialExpiringSoon))?.severity == .critical)
        #expect(bench.feed(F.token(minute: 3), now: expiry.addingTimeInterval(60)).isEmpty, "expired: still critical")

        // The configuration got the new secret.
        bench.expiries[F.client] = [(.secret, expiry.addingTimeInterval(90 * 86_400))]
        #expect(
            F.describe(bench.feed(F.token(minute: 4), now: later)) == [
                "resolve CredentialExpiringSoon production/reporting-service critical"
            ]
        )
    }

    @Test("an expired credential is critical at once")
    func expiredCredential() {
        var bench = AlertBench()
        bench.expiries[F.client] = [(.key, F.at(-60))]
        #expect(
            F.describe(bench.feed(F.token(minute: 0))) == [
                "fire CredentialExpiringSoon production/reporting-service critical"
            ]
        )
    }

    @Test("a provider certificate near expiry is one alert per environment, until every client sees the new one")
    func tlsCertificate() throws {
        var bench = AlertBench()
        let clients = ["billing", "reporting-service", "search"].map { F.target($0) }
        func run(_ target: TargetKey, minute: Double, notAfter: Date) -> ProbeResult {
            var token = F.step(.token)
            token.tlsCertificateExpiry = notAfter
            return F.run(target, minute: minute, F.step(.discovery), F.step(.jwks), token)
        }
        let old = F.at(0).addingTimeInterval(10 * 86_400)
        var actions: [AlertAction] = []
        for client in clients { actions += bench.feed(run(client, minute: 0, notAfter: old)) }
        #expect(F.describe(actions) == ["fire TLSCertificateExpiringSoon production warning"])
        let alert = try #require(actions.first?.alert)
        #expect(alert.description.contains("the token endpoint expires at \(old.ISO8601Format())"))

        // Eight days later it is critical (escalated once, not per client).
        let soon = old.addingTimeInterval(-2 * 86_400)
        actions = []
        for client in clients { actions += bench.feed(run(client, minute: 1, notAfter: old), now: soon) }
        #expect(
            F.describe(actions) == [
                "resolve TLSCertificateExpiringSoon production warning",
                "fire TLSCertificateExpiringSoon production critical",
            ]
        )

        // Renewed: resolves when the last client has seen the new certificate.
        let renewed = old.addingTimeInterval(365 * 86_400)
        var resolvedBy: [String] = []
        for client in clients where !bench.feed(run(client, minute: 2, notAfter: renewed), now: soon).isEmpty {
            resolvedBy.append(client.client)
        }
        #expect(resolvedBy == ["search"])
        #expect(bench.evaluator.firing.isEmpty)
    }
}
