import AuthProbe
import Foundation
import Logging
import Testing

/// The builder wires the pieces; a restart must not make a broken credential look healthy.
@Suite("Monitor builder")
struct MonitorBuildTests {
    @Test("history in the database is in the metrics before the first probe")
    func restoresHistory() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("monitor-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("authprobe.sqlite").path
        let key = TargetKey(environment: "prod", client: "svc")
        do {
            let store = try ResultStore.open(path: database)
            try await store.insert(ResultStoreTests.run(key, at: 100, ResultStoreTests.healthy, lifetime: 900))
            try await store.insert(ResultStoreTests.run(key, at: 160, ResultStoreTests.rejected))
            try await store.insert(ResultStoreTests.run(key, at: 220, ResultStoreTests.rejected))
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
        #expect(lines.contains(#"authprobe_up{client="svc",environment="prod"} 0.0"#))
        #expect(lines.contains(#"authprobe_consecutive_failures{client="svc",environment="prod",step="token"} 2.0"#))
        #expect(
            lines.contains(
                #"authprobe_last_success_timestamp_seconds{client="svc",environment="prod",step="token"} 100.0"#
            )
        )
        #expect(lines.contains(#"authprobe_token_lifetime_seconds{client="svc",environment="prod"} 900.0"#))
        #expect(monitor.services.count == 3)
    }
}
