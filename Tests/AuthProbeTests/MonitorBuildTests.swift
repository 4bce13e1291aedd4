import AuthProbe
import Foundation
import Logging
import Testing

/// The builder wires the pieces; a restart must not make a broken credential look healthy.
@Suite("Monitor builder")
struct MonitorBuildTests {
    @Test("the stored target states are in the metrics before the first probe")
    func restoresHistory() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("monitor-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("authprobe.sqlite").path
        let key = TargetKey(environment: "prod", client: "svc")
        do {
            let store = try await ResultStore.open(path: database)
            var rotated = ResultStoreTests.run(key, at: 160, ResultStoreTests.rejected, keys: 2)
            rotated.steps[1].jwksFingerprint = "new-key"
            var first = ResultStoreTests.run(key, at: 100, ResultStoreTests.healthy, lifetime: 900, keys: 1)
            first.steps[1].jwksFingerprint = "old-key"
            try await ResultStoreTests.record(
                store,
                first,
                rotated,
                ResultStoreTests.run(key, at: 220, ResultStoreTests.rejected)
            )
        }
        let environment = EnvironmentConfig(
            name: "prod",
            issuer: "https://idp.example/",
            clients: [ClientConfig(name: "svc", clientID: "id", secret: Secret("s"))]
        )
        let config = MonitorConfig(database: database, environments: [environment])
        let monitor = try await Monitor.build(config: config, logger: Logger(label: "test"))
        let lines = Set(
            String(decoding: monitor.metrics.render(), as: UTF8.self).split(separator: "\n").map(String.init)
        )
        let expected = [
            #"authprobe_up{environment="prod",client="svc"} 0.0"#,
            #"authprobe_consecutive_failures{environment="prod",client="svc",step="token"} 2.0"#,
            #"authprobe_last_success_timestamp_seconds{environment="prod",client="svc",step="token"} 100.0"#,
            #"authprobe_step_last_attempt_timestamp_seconds{environment="prod",client="svc",step="token"} 220.0"#,
            #"authprobe_step_success{environment="prod",client="svc",step="token"} 0.0"#,
            #"authprobe_token_lifetime_seconds{environment="prod",client="svc"} 900"#,
            #"authprobe_jwks_keys{environment="prod"} 2"#,
            // The JWKS rotation seen before the restart is still known after it.
            #"authprobe_jwks_last_rotation_timestamp_seconds{environment="prod"} 160.0"#,
            #"authprobe_step_results_total{environment="prod",client="svc",step="token",outcome="success",scope="none"} 0"#,
        ]
        for line in expected {
            #expect(lines.contains(line), "missing: \(line)")
        }
        // Server, notifications, alert evaluation, store writer, retention, scheduler.
        #expect(monitor.services.count == 6)
    }
}
