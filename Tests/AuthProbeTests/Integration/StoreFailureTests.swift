import AuthProbe
import AuthProbeTesting
import Foundation
import GRDB
import Logging
import Testing

/// The monitor survives its own database: while it cannot be written, probing and /metrics go on and the
/// failure is visible; once it can, the results that waited are written.
@Suite("Store failures")
struct StoreFailureTests {
    @Test(
        "a locked database: probing goes on, /readyz 503, failures counted; on release the waiting results are stored"
    )
    func lockedDatabase() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("authprobe.sqlite").path
        let provider = try await FakeProvider.make()
        let port = try await LoopbackPort.free()
        let environment = TestTargets.environment(
            issuer: provider.issuer,
            timeout: .seconds(1),
            interval: .milliseconds(200)
        )
        let config = MonitorConfig(
            listen: ListenAddress(host: "127.0.0.1", port: port),
            database: database,
            environments: [environment]
        )
        let monitor = try await Monitor.build(config: config, logger: Logger(label: "store-failure-test"))
        let base = "http://127.0.0.1:\(port)"
        @Sendable func metric(_ name: String, _ labels: [String: String] = [:]) async -> Double? {
            MetricsText.value(await httpGet("\(base)/metrics")?.body ?? "", name, labels)
        }
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true
        configuration.busyMode = .timeout(5)
        let locker = try DatabaseQueue(path: database, configuration: configuration)
        @Sendable func rows(from: Double, to: Double) async throws -> Int {
            try await locker.read { db in
                try Int.fetchOne(
                    db,
                    sql: "SELECT COUNT(*) FROM step_result WHERE time > ? AND time < ?",
                    arguments: [from, to]
                ) ?? 0
            }
        }

        try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await withRunningServices(monitor.services, waitingFor: [port]) {
                #expect(await eventually(within: .seconds(10)) { await metric("authprobe_store_healthy") == 1 })
                #expect(await httpGet("\(base)/readyz")?.status == 200)

                // Another process holds the write lock: every write of authprobe's times out.
                try await locker.writeWithoutTransaction { try $0.execute(sql: "BEGIN EXCLUSIVE") }
                let lockedAt = Date().timeIntervalSince1970
                let runsBefore = await metric("authprobe_scheduler_runs_total") ?? 0
                #expect(await eventually(within: .seconds(20)) { await httpGet("\(base)/readyz")?.status == 503 })
                let readiness = await httpGet("\(base)/readyz")?.body ?? ""
                #expect(readiness.contains("cannot be written") && readiness.contains(database), "\(readiness)")
                #expect(await metric("authprobe_store_healthy") == 0)
                #expect(await metric("authprobe_store_write_failures_total") ?? 0 >= 1)
                // Probing and the metrics go on, and the results wait in memory.
                #expect(await eventually { await metric("authprobe_scheduler_runs_total") ?? 0 >= runsBefore + 10 })
                #expect(await metric("authprobe_up", ["environment": "fake", "client": "svc"]) == 1)
                #expect(await metric("authprobe_store_pending_results") ?? 0 > 0)

                // Released: the writer's retry writes everything that waited.
                let releasedAt = Date().timeIntervalSince1970
                try await locker.writeWithoutTransaction { try $0.execute(sql: "COMMIT") }
                #expect(await eventually(within: .seconds(40)) { await httpGet("\(base)/readyz")?.status == 200 })
                #expect(await metric("authprobe_store_healthy") == 1)
                #expect(await metric("authprobe_store_dropped_results_total") == 0)
                // Every run made while the database was locked is there: three steps each, a run every 200 ms.
                let stored = try await rows(from: lockedAt, to: releasedAt)
                let locked = releasedAt - lockedAt
                #expect(Double(stored) >= 3 * (locked / 0.2) * 0.7, "\(stored) rows for \(locked) s locked")
            }
        }
    }
}
