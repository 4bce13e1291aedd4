import AuthProbe
import AuthProbeTesting
import Foundation
import Logging
import Testing

/// Alerts delivered through the outbox to a real Alertmanager, read back through its API.
@Suite("Alertmanager delivery")
struct AlertmanagerDeliveryTests {
    /// Whole milliseconds: Alertmanager keeps and returns times to the millisecond.
    static func now(offset: TimeInterval = 0) -> Date {
        Date(timeIntervalSince1970: ((Date().timeIntervalSince1970 + offset) * 1000).rounded(.down) / 1000)
    }

    static func alert(_ name: AlertName, client: String = "reporting", startsAt: Date) -> ActiveAlert {
        ActiveAlert(
            key: AlertKey(name, environment: "production", client: client),
            severity: .critical,
            outcome: .credentialRejected,
            httpStatus: 403,
            summary: "Credential \(client) is rejected by production",
            description: "Token requests failed on 2 consecutive attempts",
            startsAt: startsAt
        )
    }

    /// A store in a temporary directory and a service delivering to `alertmanager`, running for `body`.
    static func withService(
        _ alertmanager: Alertmanager,
        resendInterval: Duration = .seconds(60),
        backoff: OutboxBackoff = OutboxBackoff(initial: .milliseconds(100), maximum: .milliseconds(500)),
        _ body: @escaping @Sendable (ResultStore, NotificationService) async throws -> Void
    ) async throws {
        let directory = try Checkout.temporaryDirectory("am-delivery")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await ResultStore.open(path: directory.appendingPathComponent("authprobe.sqlite").path)
        var alerting = AlertingConfig()
        // A trailing slash, as a configuration may have it.
        alerting.alertmanagers = [AlertmanagerReceiver(name: "am", url: alertmanager.url + "/", timeout: .seconds(2))]
        alerting.resendInterval = resendInterval
        let service = NotificationService(
            store: store,
            transport: try NIOHTTPTransport(),
            alerting: alerting,
            context: AlertPayloadContext(location: "test-lab"),
            firing: { (try? await store.firingAlerts()) ?? [] },
            backoff: backoff,
            logger: Logger(label: "am-delivery-test")
        )
        try await withRunningServices([service]) {
            try await body(store, service)
        }
    }

    @Test("a fired alert arrives with its labels, annotations and startsAt; its resolve ends it")
    func fireThenResolve() async throws {
        try await Alertmanager.with { alertmanager in
            try await Self.withService(alertmanager) { store, service in
                let startsAt = Self.now(offset: -90.75)
                let alert = Self.alert(.credentialRejected, startsAt: startsAt)
                try await service.enqueue([.fire(alert)], now: Date())
                #expect(
                    try await eventually(within: .seconds(20)) {
                        try await alertmanager.alert(named: "CredentialRejected") != nil
                    }
                )
                let received = try #require(try await alertmanager.alert(named: "CredentialRejected"))
                #expect(
                    received["labels"] as? [String: String]
                        == [
                            "alertname": "CredentialRejected", "environment": "production", "client": "reporting",
                            "severity": "critical", "scope": "credential", "outcome": "credential_rejected",
                            "location": "test-lab",
                        ]
                )
                let annotations = try #require(received["annotations"] as? [String: String])
                #expect(annotations["summary"] == "Credential reporting is rejected by production")
                #expect(
                    annotations["description"]
                        == "Token requests failed on 2 consecutive attempts (outcome credential_rejected, HTTP 403)"
                )
                #expect(annotations["runbook_url"]?.hasSuffix("README.md#alert-credentialrejected") == true)
                let receivedStart = try #require(received["startsAt"] as? String)
                // Alertmanager writes back the time it was sent (to the millisecond), not when it received it.
                #expect(receivedStart == AlertPayloadContext.timestamp(startsAt))

                var resolved = alert
                resolved.endsAt = Self.now()
                try await service.enqueue([.resolve(resolved)], now: Date())
                #expect(
                    try await eventually(within: .seconds(20)) {
                        try await alertmanager.alert(named: "CredentialRejected") == nil
                    }
                )
                #expect(await alertmanager.received("resolved") >= 1)
                #expect(try await store.firingAlerts().isEmpty)
                let history = try await store.notifications().reversed().map {
                    "\($0.action.rawValue) \($0.outcome.rawValue)"
                }
                #expect(Array(history) == ["fire success", "resolve success"])
                #expect(service.statistics.snapshot().count("am", .success) >= 2)
                #expect(service.statistics.snapshot().outboxDepth == 0)
            }
        }
    }

    @Test(
        "Alertmanager down while an alert fires and resolves: once back, both arrive in order; re-sends restore the rest"
    )
    func outageKeepsOrder() async throws {
        try await Alertmanager.with { alertmanager in
            try await Self.withService(alertmanager, resendInterval: .seconds(2)) { store, service in
                // One alert fires while Alertmanager is up.
                let steady = Self.alert(.credentialExpiringSoon, client: "billing", startsAt: Self.now(offset: -600))
                try await service.enqueue([.fire(steady)], now: Date())
                #expect(
                    try await eventually(within: .seconds(20)) {
                        try await alertmanager.alert(named: "CredentialExpiringSoon") != nil
                    }
                )

                await alertmanager.stop()
                let flapping = Self.alert(.credentialRejected, startsAt: Self.now(offset: -5))
                try await service.enqueue([.fire(flapping)], now: Date())
                var resolved = flapping
                resolved.endsAt = Self.now()
                try await service.enqueue([.resolve(resolved)], now: Date())
                // Retried with backoff; the resolve waits behind the fire.
                #expect(
                    await eventually(within: .seconds(20)) { service.statistics.snapshot().count("am", .failure) >= 3 }
                )
                let failures = try await store.notifications().filter { $0.outcome == .failure }
                #expect(!failures.isEmpty && failures.allSatisfy { $0.action == .fire && $0.alertKey == flapping.key })
                #expect(failures.allSatisfy { $0.detail.hasPrefix("connect_refused") })
                #expect(try await store.outboxSummary().depth == 2)
                #expect(try await store.nextOutbox(receiver: "am")?.lastError?.hasPrefix("connect_refused") == true)

                try await alertmanager.start()
                #expect(try await eventually(within: .seconds(20)) { try await store.outboxSummary().depth == 0 })
                let delivered = try await store.notifications(limit: 1000).reversed()
                    .filter { $0.outcome == .success && $0.alertKey == flapping.key }.map(\.action)
                #expect(delivered == [.fire, .resolve])
                #expect(await alertmanager.received("firing") >= 1)
                #expect(await alertmanager.received("resolved") >= 1)
                // Resolved after it fired: not active. The alert still firing comes back with the next re-send
                // (a restarted Alertmanager has forgotten it).
                #expect(try await alertmanager.alert(named: "CredentialRejected") == nil)
                #expect(
                    try await eventually(within: .seconds(20)) {
                        try await alertmanager.alert(named: "CredentialExpiringSoon") != nil
                    }
                )
                let restored = try #require(try await alertmanager.alert(named: "CredentialExpiringSoon"))
                let restoredStart = try #require(restored["startsAt"] as? String)
                #expect(restoredStart == AlertPayloadContext.timestamp(steady.startsAt))
            }
        }
    }
}
