import AuthProbe
import Foundation
import GRDB
import Logging
import Testing

/// The store records every step and gives back the history a restart needs.
@Suite("Result store")
struct ResultStoreTests {
    static let key = TargetKey(environment: "prod", client: "svc")

    static func run(
        _ key: TargetKey = key,
        at seconds: Double,
        _ steps: [(Step, Outcome)],
        lifetime: Int? = nil,
        keys: Int? = nil
    ) -> ProbeResult {
        ProbeResult(
            target: key,
            startedAt: Date(timeIntervalSince1970: seconds),
            steps: steps.map { step, outcome in
                StepResult(
                    step: step,
                    outcome: outcome,
                    httpStatus: outcome == .success ? 200 : 403,
                    timings: PhaseTimings(total: .milliseconds(42)),
                    detail: "\(step.rawValue) \(outcome.label)",
                    tokenLifetime: step == .token && outcome == .success ? lifetime : nil,
                    jwksKeys: step == .jwks ? keys : nil
                )
            }
        )
    }

    static let healthy: [(Step, Outcome)] = [(.discovery, .success), (.jwks, .success), (.token, .success)]
    static let rejected: [(Step, Outcome)] = [(.discovery, .success), (.jwks, .success), (.token, .credentialRejected)]

    @Test("history: last outcome, last success and failures since it, per step")
    func history() async throws {
        let store = try ResultStore(writer: DatabaseQueue())
        try await store.insert(Self.run(at: 100, Self.healthy, lifetime: 3600, keys: 2))
        try await store.insert(Self.run(at: 160, Self.healthy, lifetime: 60, keys: 3))
        for time in [220.0, 280, 340] {
            try await store.insert(Self.run(at: time, Self.rejected, keys: 3))
        }
        let history = try await store.history()
        let token = try #require(history.steps.first { $0.step == .token })
        #expect(token.target == Self.key)
        #expect(token.lastOutcome == .credentialRejected)
        #expect(token.lastSuccess == Date(timeIntervalSince1970: 160))
        #expect(token.consecutiveFailures == 3)
        let discovery = try #require(history.steps.first { $0.step == .discovery })
        #expect(discovery.lastOutcome == .success)
        #expect(discovery.consecutiveFailures == 0)
        #expect(discovery.lastSuccess == Date(timeIntervalSince1970: 340))
        #expect(history.tokenLifetimes == [Self.key: 60])
        #expect(history.jwksKeys == ["prod": 3])
    }

    @Test("every result keeps its phase timings; a phase that did not happen is NULL")
    func phases() async throws {
        let queue = try DatabaseQueue()
        let store = try ResultStore(writer: queue)
        let timings = PhaseTimings(
            dns: .zero,
            connect: .milliseconds(2),
            processing: .milliseconds(30),
            transfer: .microseconds(500),
            total: .microseconds(32_500)
        )
        let step = StepResult(step: .discovery, outcome: .success, httpStatus: 200, timings: timings)
        try await store.insert(ProbeResult(target: Self.key, startedAt: Date(), steps: [step]))
        let row = try #require(
            try await queue.read { db in
                try Row.fetchOne(
                    db,
                    sql: "SELECT dns_seconds, connect_seconds, tls_seconds, processing_seconds, transfer_seconds, "
                        + "duration_seconds FROM step_result"
                )
            }
        )
        #expect(row["dns_seconds"] as Double? == 0)
        #expect(row["connect_seconds"] as Double? == 0.002)
        #expect(row["tls_seconds"] as Double? == nil)
        #expect(row["processing_seconds"] as Double? == 0.03)
        #expect(row["transfer_seconds"] as Double? == 0.0005)
        #expect(row["duration_seconds"] as Double? == 0.0325)
    }

    @Test("the store sink batches results without making runs wait, and finish() writes them all")
    func sinkBatches() async throws {
        let store = try ResultStore(writer: DatabaseQueue())
        let sink = StoreSink(store: store, logger: Logger(label: "test"), window: .seconds(30))
        for time in [100.0, 160, 220] {
            await sink.record(Self.run(at: time, Self.rejected))
        }
        // Within the window nothing is written yet: recording never waited for the disk.
        #expect(try await store.history().steps.isEmpty)
        await sink.finish()
        let token = try #require(try await store.history().steps.first { $0.step == .token })
        #expect(token.consecutiveFailures == 3)
        #expect(token.lastOutcome == .credentialRejected)
        // A sink that has finished takes new results again.
        await sink.record(Self.run(at: 280, Self.healthy))
        await sink.finish()
        #expect(try await store.history().steps.first { $0.step == .token }?.consecutiveFailures == 0)
    }

    @Test("a step that never succeeded counts all its failures")
    func neverSucceeded() async throws {
        let store = try ResultStore(writer: DatabaseQueue())
        try await store.insert(Self.run(at: 1, [(.discovery, .connectRefused)]))
        try await store.insert(Self.run(at: 2, [(.discovery, .connectRefused)]))
        let history = try await store.history()
        #expect(history.steps.count == 1)
        #expect(history.steps[0].consecutiveFailures == 2)
        #expect(history.steps[0].lastSuccess == nil)
    }

    @Test("rows keep outcome, status, duration and detail")
    func rows() async throws {
        let store = try ResultStore(writer: DatabaseQueue())
        try await store.insert(Self.run(at: 10, Self.rejected))
        let rows = try await store.recent()
        #expect(rows.count == 3)
        let token = try #require(rows.first)
        #expect(token.step == .token)
        #expect(token.outcome == "credential_rejected")
        #expect(token.httpStatus == 403)
        #expect(abs(token.durationSeconds - 0.042) < 1e-9)
        #expect(token.detail == "token credential_rejected")
        #expect(token.time == Date(timeIntervalSince1970: 10))
    }

    @Test("retention removes only rows older than the cutoff")
    func prune() async throws {
        let store = try ResultStore(writer: DatabaseQueue())
        try await store.insert(Self.run(at: 100, Self.healthy))
        try await store.insert(Self.run(at: 200, Self.healthy))
        let removed = try await store.prune(before: Date(timeIntervalSince1970: 150))
        #expect(removed == 3)
        let rows = try await store.recent()
        #expect(rows.count == 3)
        #expect(rows.allSatisfy { $0.time == Date(timeIntervalSince1970: 200) })
    }

    @Test("history survives retention: a credential broken for longer than the raw rows are kept")
    func historyOutlivesRetention() async throws {
        let store = try ResultStore(writer: DatabaseQueue())
        try await store.insert(Self.run(at: 100, Self.healthy, lifetime: 600, keys: 2))
        try await store.insert(Self.run(at: 200, Self.rejected, keys: 2))
        try await store.insert(Self.run(at: 300, Self.rejected, keys: 2))
        try await store.prune(before: Date(timeIntervalSince1970: 1000))
        #expect(try await store.recent().isEmpty)
        let history = try await store.history()
        let token = try #require(history.steps.first { $0.step == .token })
        #expect(token.lastOutcome == .credentialRejected)
        #expect(token.consecutiveFailures == 2)
        #expect(token.lastSuccess == Date(timeIntervalSince1970: 100))
        #expect(history.tokenLifetimes == [Self.key: 600])
        #expect(history.jwksKeys == ["prod": 2])
    }

    @Test("a database written before step_state existed is migrated with its history")
    func migratesExistingRows() async throws {
        let queue = try DatabaseQueue()
        // The v1 schema and rows, as an earlier authprobe left them.
        try await queue.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                    INSERT INTO grdb_migrations VALUES ('v1');
                    CREATE TABLE step_result (id INTEGER PRIMARY KEY AUTOINCREMENT, time DOUBLE NOT NULL,
                      environment TEXT NOT NULL, client TEXT NOT NULL, step TEXT NOT NULL, outcome TEXT NOT NULL,
                      http_status INTEGER, duration_seconds DOUBLE NOT NULL, token_lifetime_seconds INTEGER,
                      jwks_keys INTEGER, detail TEXT NOT NULL);
                    INSERT INTO step_result (time, environment, client, step, outcome, duration_seconds,
                      token_lifetime_seconds, jwks_keys, detail) VALUES
                      (10, 'prod', 'svc', 'token', 'success', 0.1, 300, NULL, ''),
                      (20, 'prod', 'svc', 'token', 'invalid_client', 0.1, NULL, NULL, ''),
                      (30, 'prod', 'svc', 'token', 'invalid_client', 0.1, NULL, NULL, ''),
                      (30, 'prod', 'svc', 'jwks', 'success', 0.1, NULL, 4, '');
                    """
            )
        }
        let store = try ResultStore(writer: queue)
        let history = try await store.history()
        let token = try #require(history.steps.first { $0.step == .token })
        #expect(token.lastOutcome == .invalidClient)
        #expect(token.consecutiveFailures == 2)
        #expect(token.lastSuccess == Date(timeIntervalSince1970: 10))
        #expect(history.tokenLifetimes == [Self.key: 300])
        #expect(history.jwksKeys == ["prod": 4])
        // New results continue from the migrated state.
        try await store.insert(Self.run(at: 40, Self.rejected))
        #expect(try await store.history().steps.first { $0.step == .token }?.consecutiveFailures == 3)
    }

    @Test("on disk: WAL mode, and a reopened database keeps its rows")
    func onDisk() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("nested/authprobe.sqlite").path
        do {
            let store = try ResultStore.open(path: path)
            try await store.insert(Self.run(at: 5, Self.rejected))
        }
        let mode = try await DatabaseQueue(path: path).read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        let reopened = try ResultStore.open(path: path)
        #expect(try await reopened.recent().count == 3)
        #expect(try await reopened.history().steps.first { $0.step == .token }?.consecutiveFailures == 1)
    }
}
