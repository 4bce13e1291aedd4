import Foundation
import Testing

@testable import AuthProbe

/// Restarts, configuration reloads and reminders.
@Suite("Alert evaluator: restart, reload and reminders")
struct AlertEvaluatorLifecycleTests {
    typealias F = AlertFixture

    @Test("after a restart a stored alert neither fires again nor is forgotten, and still resolves")
    func restartKeepsAlerts() throws {
        var before = AlertBench()
        _ = before.feed([F.token(.invalidClient, minute: 0), F.token(.invalidClient, minute: 1)])
        let stored = before.evaluator.firing
        #expect(stored.map(\.key) == [F.key(.credentialRejected)])

        var after = AlertBench(firing: stored)
        #expect(after.evaluator.firing == stored)
        #expect(after.feed([F.token(.invalidClient, minute: 5), F.token(.invalidClient, minute: 6)]).isEmpty)
        #expect(after.feed(F.token(minute: 7)).isEmpty)
        let resolved = after.feed(F.token(minute: 8))
        #expect(F.describe(resolved) == ["resolve CredentialRejected production/reporting-service critical"])
        let alert = try #require(resolved.first?.alert)
        #expect(alert.startsAt == F.at(1), "startsAt survives the restart")
        #expect(alert.endsAt == F.at(8))
    }

    @Test("a provider outage stored before a restart resolves once, after every client showed healthy runs")
    func restartDuringAnOutage() throws {
        var before = AlertBench()
        let clients = ["billing", "reporting-service", "search"].map { F.target($0) }
        for minute in 0..<3 {
            for client in clients { _ = before.feed(F.discovery(.connectRefused, client, minute: Double(minute))) }
        }
        let stored = before.evaluator.firing
        #expect(stored.map(\.key) == [AlertKey(.providerUnavailable, environment: "production")])

        var after = AlertBench(firing: stored)
        var actions: [AlertAction] = []
        for minute in 10..<12 {
            for client in clients {
                actions += after.feed(F.discovery(.connectRefused, client, minute: Double(minute)))
            }
        }
        #expect(actions.isEmpty, "still down: no second fire")
        // billing and reporting-service recover; search is still down, so nothing resolves yet.
        for minute in 12..<15 {
            actions += after.feed(F.token(.success, clients[0], minute: Double(minute)))
            actions += after.feed(F.token(.success, clients[1], minute: Double(minute)))
            actions += after.feed(F.discovery(.connectRefused, clients[2], minute: Double(minute)))
        }
        #expect(actions.isEmpty)
        actions += after.feed(F.token(.success, clients[2], minute: 15))
        actions += after.feed(F.token(.success, clients[2], minute: 16))
        #expect(F.describe(actions) == ["resolve ProviderUnavailable production critical"])
        #expect(actions.first?.alert.startsAt == F.at(2))
    }

    @Test("after a restart an expiry alert at the same severity is not fired again")
    func restartKeepsExpiry() {
        var before = AlertBench()
        before.expiries[F.client] = [(.secret, F.at(0).addingTimeInterval(5 * 86_400))]
        #expect(before.feed(F.token(minute: 0)).count == 1)
        var after = AlertBench(firing: before.evaluator.firing)
        after.expiries = before.expiries
        #expect(after.feed(F.token(minute: 10)).isEmpty)
        #expect(after.evaluator.alert(F.key(.credentialExpiringSoon))?.startsAt == F.at(0))
    }

    @Test("a reload resolves the alerts of removed targets and environments and forgets their streaks")
    func retain() {
        var bench = AlertBench()
        let kept = F.target("billing")
        let removed = F.client
        let staging = F.target("billing", environment: "staging")
        var actions = bench.feed([
            F.token(.invalidClient, removed, minute: 0), F.token(.invalidClient, removed, minute: 1),
        ])
        actions += bench.feed([F.token(.invalidClient, kept, minute: 0), F.token(.invalidClient, kept, minute: 1)])
        for minute in 0..<3 { actions += bench.feed(F.discovery(.dnsError, staging, minute: Double(minute))) }
        #expect(actions.count == 3)

        let resolved = bench.evaluator.retain(targets: [kept], now: F.at(5))
        #expect(
            F.describe(resolved) == [
                "resolve CredentialRejected production/reporting-service critical",
                "resolve ProviderUnavailable staging critical",
            ]
        )
        #expect(resolved.allSatisfy { $0.alert.endsAt == F.at(5) })
        #expect(bench.evaluator.firing.map(\.key) == [F.key(.credentialRejected, kept)])
        // Added back later, the target starts afresh: one rejected attempt is no alert.
        #expect(bench.feed(F.token(.invalidClient, removed, minute: 6)).isEmpty)
        #expect(bench.evaluator.retain(targets: [kept, removed], now: F.at(7)).isEmpty)
    }

    @Test("a reload that removes the last provider-down target of an environment resolves its outage")
    func retainLastDownTarget() {
        var bench = AlertBench()
        let (healthy, down) = (F.target("billing"), F.target("search"))
        var actions: [AlertAction] = []
        for minute in 0..<3 {
            actions += bench.feed(F.token(.success, healthy, minute: Double(minute)))
            actions += bench.feed(F.discovery(.connectTimeout, down, minute: Double(minute)))
        }
        #expect(F.describe(actions) == ["fire ProviderUnavailable production critical"])
        #expect(F.describe(bench.evaluator.retain(targets: [healthy, down], now: F.at(4))) == [])
        #expect(
            F.describe(bench.evaluator.retain(targets: [healthy], now: F.at(5))) == [
                "resolve ProviderUnavailable production critical"
            ]
        )
    }

    @Test("reminders come once every interval per firing alert, in key order; a restored one counts from its start")
    func reminders() throws {
        var bench = AlertBench()
        _ = bench.feed([F.token(.invalidClient, minute: 0), F.token(.invalidClient, minute: 1)])
        let other = F.target("billing")
        _ = bench.feed([F.token(.invalidRequest, other, minute: 0), F.token(.invalidRequest, other, minute: 1)])
        let start = F.at(1)
        #expect(bench.evaluator.remind(now: start.addingTimeInterval(30), every: .seconds(60)).isEmpty)
        #expect(F.describe(bench.evaluator.remind(now: start, every: .seconds(60))) == [])
        let first = bench.evaluator.remind(now: start.addingTimeInterval(60), every: .seconds(60))
        #expect(
            F.describe(first) == [
                "remind TokenRequestRejected production/billing critical",
                "remind CredentialRejected production/reporting-service critical",
            ]
        )
        #expect(bench.evaluator.remind(now: start.addingTimeInterval(90), every: .seconds(60)).isEmpty)
        #expect(bench.evaluator.remind(now: start.addingTimeInterval(120), every: .seconds(60)).count == 2)

        let restored = AlertEvaluator(thresholds: AlertThresholds(), firing: bench.evaluator.firing)
        var evaluator = restored
        #expect(evaluator.remind(now: start.addingTimeInterval(1), every: .seconds(3600)).isEmpty)
        #expect(evaluator.remind(now: start.addingTimeInterval(3600), every: .seconds(3600)).count == 2)
    }

    @Test("firing is sorted by environment, client and name")
    func firingOrder() {
        var bench = AlertBench()
        for client in ["zeta", "alpha"] {
            let target = F.target(client)
            _ = bench.feed([F.token(.invalidClient, target, minute: 0), F.token(.invalidClient, target, minute: 1)])
        }
        bench.expiries[F.target("alpha")] = [(.secret, F.at(0))]
        _ = bench.feed(F.token(.invalidClient, F.target("alpha"), minute: 2))
        #expect(
            bench.evaluator.firing.map(\.key.description) == [
                "CredentialExpiringSoon production/alpha", "CredentialRejected production/alpha",
                "CredentialRejected production/zeta",
            ]
        )
    }

    @Test("a target's slot stays small: inline counters and one ring of 60 six-byte buckets")
    func slotSize() {
        #expect(MemoryLayout<AlertEvaluator.TargetSlot>.stride <= 96)
        #expect(MemoryLayout<TokenWindow.Bucket>.stride == 6)
        #expect(WindowShape.count == 60)
    }
}
