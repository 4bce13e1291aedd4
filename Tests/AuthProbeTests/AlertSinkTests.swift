import AuthProbe
import AuthProbeTesting
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// The sink between the scheduler and the notifications: what it stores, in which order, and what a reload
/// does to alerts of targets no longer configured.
@Suite("Alert sink")
struct AlertSinkTests {
    static func rejected(_ key: TargetKey, at seconds: Double) -> ProbeResult {
        ProbeResult(
            target: key,
            startedAt: Date(timeIntervalSince1970: seconds),
            steps: [
                StepResult(step: .discovery, outcome: .success, timings: PhaseTimings(total: .milliseconds(1))),
                StepResult(step: .jwks, outcome: .success, timings: PhaseTimings(total: .milliseconds(1))),
                StepResult(
                    step: .token,
                    outcome: .credentialRejected,
                    httpStatus: 403,
                    timings: PhaseTimings(total: .milliseconds(1))
                ),
            ]
        )
    }

    @Test("a confirmed rejection is stored as firing; an alert of a target no longer configured resolves at start")
    func storesAndRetires() async throws {
        let directory = try Checkout.temporaryDirectory("alert-sink")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await ResultStore.open(path: directory.appendingPathComponent("authprobe.sqlite").path)
        let kept = TestTargets.target(environment: "kept")
        let removed = AlertKey(.credentialRejected, environment: "removed", client: "svc")
        let stale = ActiveAlert(
            key: removed,
            severity: .critical,
            outcome: .credentialRejected,
            summary: "old",
            description: "old",
            startsAt: Date(timeIntervalSince1970: 100)
        )
        try await store.apply([.fire(stale)], deliveries: [], now: Date(timeIntervalSince1970: 100))
        let notifications = NotificationService(
            store: store,
            transport: try NIOHTTPTransport(),
            alerting: AlertingConfig(),
            firing: { [] }
        )
        let sink = AlertSink(
            targets: [kept],
            alerting: AlertingConfig(),
            firing: try await store.firingAlerts(),
            notifications: notifications,
            logger: Logger(label: "alert-sink-test")
        )
        #expect(sink.firing.isEmpty, "the removed target's alert no longer fires")
        var state = TargetState(key: kept.key)
        for seconds in [200.0, 260] {
            let result = Self.rejected(kept.key, at: seconds)
            state.apply(result)
            await sink.record(result, state: state)
        }
        #expect(sink.firing.map(\.key) == [AlertKey(.credentialRejected, environment: "kept", client: "svc")])
        await sink.finish()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await sink.run() }
            // The queue is drained into the store: the new alert fires there and the stale one is gone.
            let stored = try await eventually(within: .seconds(10)) {
                try await store.firingAlerts().map(\.key.environment) == ["kept"]
            }
            #expect(stored)
            group.cancelAll()
        }
        let figures = sink.figures()
        #expect(figures.firing.contains { $0 == ("CredentialRejected", "critical", 1) })
        #expect(figures.firing.count == AlertName.allCases.count * 2)
    }
}
