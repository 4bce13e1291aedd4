import AuthProbe
import Foundation
import GRDB
import Logging
import Testing

/// The store records every step and gives back the target states a restart needs.
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

    /// Inserts each run with the state it leads its target to, continuing from the stored state (as the
    /// scheduler continues from the restored one).
    static func record(_ store: ResultStore, _ results: ProbeResult...) async throws {
        for result in results {
            let stored = try await store.states().states.first { $0.key == result.target }
            try await store.insert(result, state: (stored ?? TargetState(key: result.target)).applying(result))
        }
    }

    /// The stored state of `key`.
    static func state(_ store: ResultStore, _ key: TargetKey = key) async throws -> TargetState? {
        try await store.states().states.first { $0.key == key }
    }

    static let healthy: [(Step, Outcome)] = [(.discovery, .success), (.jwks, .success), (.token, .success)]
    static let rejected: [(Step, Outcome)] = [(.discovery, .success), (.jwks, .success), (.token, .credentialRejected)]

    @Test("the target state round-trips: last outcome, last success and failures since it, per step")
    func stateRoundTrip() async throws {
        let store = try ResultStore(writer: DatabaseQueue())
        try await Self.record(store, Self.run(at: 100, Self.healthy, lifetime: 3600, keys: 2))
        try await Self.record(store, Self.run(at: 160, Self.healthy, lifetime: 60, keys: 3))
        for time in [220.0, 280, 340] {
            try await Self.record(store, Self.run(at: time, Self.rejected, keys: 3))
        }
        let state = try #require(try await Self.state(store))
        let token = try #require(state.steps[.token])
        #expect(token.outcome == .credentialRejected)
        #expect(token.httpStatus == 403)
        #expect(token.lastSuccess == Date(timeIntervalSince1970: 160))
        #expect(token.consecutiveFailures == 3)
        #expect(token.timings == PhaseTimings(total: .milliseconds(42)))
        let discovery = try #require(state.steps[.discovery])
        #expect(discovery.outcome == .success)
        #expect(discovery.consecutiveFailures == 0)
        #expect(discovery.lastSuccess == Date(timeIntervalSince1970: 340))
        #expect(state.tokenLifetime == 60)
        #expect(state.jwks?.keys == 3)
        // What was stored is exactly the state the runs led to.
        var expected = TargetState(key: Self.key)
        expected.apply(Self.run(at: 100, Self.healthy, lifetime: 3600, keys: 2))
        expected.apply(Self.run(at: 160, Self.healthy, lifetime: 60, keys: 3))
        for time in [220.0, 280, 340] { expected.apply(Self.run(at: time, Self.rejected, keys: 3)) }
        #expect(state == expected)
    }

    @Test("a stored state that does not decode is skipped and named, never a crash")
    func undecodableState() async throws {
        let queue = try DatabaseQueue()
        let store = try ResultStore(writer: queue)
        try await Self.record(store, Self.run(at: 100, Self.healthy))
        try await queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO target_state (environment, client, state) VALUES
                      ('prod', 'broken', '{"key": 1}'), ('prod', 'binary', X'00FF'), ('prod', 'number', 42)
                    """
            )
        }
        let (states, skipped) = try await store.states()
        #expect(states.map(\.key) == [Self.key])
        #expect(Set(skipped.map(\.client)) == ["broken", "binary", "number"])
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
        try await Self.record(store, ProbeResult(target: Self.key, startedAt: Date(), steps: [step]))
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

    @Test("the store writer batches results without making runs wait, and finish() writes them all")
    func writerBatches() async throws {
        let store = try ResultStore(writer: DatabaseQueue())
        let writer = StoreWriter(store: store, path: ":memory:", logger: Logger(label: "test"), window: .seconds(30))
        var state = TargetState(key: Self.key)
        for time in [100.0, 160, 220] {
            let result = Self.run(at: time, Self.rejected)
            state.apply(result)
            await writer.record(result, state: state)
        }
        // Nothing is written until the writer flushes: recording never waits for the disk.
        #expect(try await Self.state(store) == nil)
        #expect(writer.health.pendingResults == 3)
        await writer.finish()
        let token = try #require(try await Self.state(store)?.steps[.token])
        #expect(token.consecutiveFailures == 3)
        #expect(token.outcome == .credentialRejected)
        #expect(try await store.recent().count == 9)
        #expect(writer.health.pendingResults == 0)
        #expect(writer.health.lastWrite != nil)
        // A writer that has finished takes new results again.
        let healthy = Self.run(at: 280, Self.healthy)
        state.apply(healthy)
        await writer.record(healthy, state: state)
        await writer.finish()
        #expect(try await Self.state(store)?.steps[.token]?.consecutiveFailures == 0)
    }

    @Test("a read-only database: the writer keeps results and states in memory, then writes them all")
    func readOnlyThenWritable() async throws {
        let queue = try DatabaseQueue()
        let store = try ResultStore(writer: queue)
        let writer = StoreWriter(store: store, path: "memory.sqlite", logger: Logger(label: "test"))
        // SQLite's own switch for a read-only connection: every write fails with SQLITE_READONLY.
        try await queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA query_only = ON") }
        var state = TargetState(key: Self.key)
        for time in [100.0, 160, 220] {
            let result = Self.run(at: time, Self.rejected)
            state.apply(result)
            await writer.record(result, state: state)
            #expect(await writer.flush() == false)
        }
        #expect(writer.health.failing)
        #expect(writer.health.writeFailures == 3)
        #expect(writer.health.pendingResults == 3)
        #expect(writer.health.droppedResults == 0)
        try await queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA query_only = OFF") }
        #expect(await writer.flush())
        #expect(!writer.health.failing)
        #expect(writer.health.pendingResults == 0)
        #expect(try await store.recent().count == 9, "every waiting result was written")
        #expect(try await Self.state(store)?.steps[.token]?.consecutiveFailures == 3)
    }

    @Test("too many waiting results: the oldest raw results go, the latest state is kept")
    func boundedWhileUnwritable() async throws {
        let queue = try DatabaseQueue()
        let store = try ResultStore(writer: queue)
        let writer = StoreWriter(store: store, path: "memory.sqlite", logger: Logger(label: "test"), capacity: 2)
        try await queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA query_only = ON") }
        var state = TargetState(key: Self.key)
        for time in [100.0, 160, 220, 280] {
            let result = Self.run(at: time, Self.rejected)
            state.apply(result)
            await writer.record(result, state: state)
        }
        #expect(await writer.flush() == false)
        #expect(writer.health.pendingResults == 2)
        #expect(writer.health.droppedResults == 2)
        try await queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA query_only = OFF") }
        #expect(await writer.flush())
        #expect(Set(try await store.recent().map(\.time.timeIntervalSince1970)) == [220, 280])
        #expect(try await Self.state(store)?.steps[.token]?.consecutiveFailures == 4, "the state after all four runs")
    }

    @Test("waiting results are bounded by memory too: large details make the oldest go sooner")
    func boundedByBytes() async throws {
        let queue = try DatabaseQueue()
        let store = try ResultStore(writer: queue)
        func large(at time: Double) -> ProbeResult {
            var result = Self.run(at: time, Self.rejected)
            for index in result.steps.indices { result.steps[index].detail = String(repeating: "d", count: 500) }
            return result
        }
        let small = Self.run(at: 1, Self.rejected)
        // Room for about three large results (each ~2.8 KB as estimated) and far more small ones.
        let writer = StoreWriter(
            store: store,
            path: "memory.sqlite",
            logger: Logger(label: "test"),
            capacity: 1_000,
            byteCapacity: 9_000
        )
        try await queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA query_only = ON") }
        var state = TargetState(key: Self.key)
        for time in [100.0, 160, 220, 280, 340] {
            let result = large(at: time)
            state.apply(result)
            await writer.record(result, state: state)
        }
        #expect(writer.health.pendingResults == 3)
        #expect(writer.health.droppedResults == 2)
        for time in [400.0, 460] {
            var result = small
            result.startedAt = Date(timeIntervalSince1970: time)
            state.apply(result)
            await writer.record(result, state: state)
        }
        #expect(await writer.flush() == false, "the failed write puts the batch back, still bounded")
        #expect(writer.health.pendingResults == 4 && writer.health.droppedResults == 3)
        try await queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA query_only = OFF") }
        #expect(await writer.flush())
        #expect(Set(try await store.recent().map(\.time.timeIntervalSince1970)) == [280, 340, 400, 460])
    }

    @Test("a step that never succeeded counts all its failures")
    func neverSucceeded() async throws {
        let store = try ResultStore(writer: DatabaseQueue())
        try await Self.record(store, Self.run(at: 1, [(.discovery, .connectRefused)]))
        try await Self.record(store, Self.run(at: 2, [(.discovery, .connectRefused)]))
        let state = try #require(try await Self.state(store))
        #expect(state.steps.count == 1)
        #expect(state.steps[.discovery]?.consecutiveFailures == 2)
        #expect(state.steps[.discovery]?.lastSuccess == nil)
    }

    @Test("rows keep outcome, status, duration and detail")
    func rows() async throws {
        let store = try ResultStore(writer: DatabaseQueue())
        try await Self.record(store, Self.run(at: 10, Self.rejected))
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
        try await Self.record(store, Self.run(at: 100, Self.healthy), Self.run(at: 200, Self.healthy))
        let removed = try await store.prune(before: Date(timeIntervalSince1970: 150))
        #expect(removed == 3)
        let rows = try await store.recent()
        #expect(rows.count == 3)
        #expect(rows.allSatisfy { $0.time == Date(timeIntervalSince1970: 200) })
    }

    @Test("the state survives retention: a credential broken for longer than the raw rows are kept")
    func stateOutlivesRetention() async throws {
        let store = try ResultStore(writer: DatabaseQueue())
        try await Self.record(
            store,
            Self.run(at: 100, Self.healthy, lifetime: 600, keys: 2),
            Self.run(at: 200, Self.rejected, keys: 2),
            Self.run(at: 300, Self.rejected, keys: 2)
        )
        try await store.prune(before: Date(timeIntervalSince1970: 1000))
        #expect(try await store.recent().isEmpty)
        let state = try #require(try await Self.state(store))
        let token = try #require(state.steps[.token])
        #expect(token.outcome == .credentialRejected)
        #expect(token.consecutiveFailures == 2)
        #expect(token.lastSuccess == Date(timeIntervalSince1970: 100))
        #expect(state.tokenLifetime == 600)
        #expect(state.jwks?.keys == 2)
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
        let state = try #require(try await Self.state(store))
        let token = try #require(state.steps[.token])
        #expect(token.outcome == .invalidClient)
        #expect(token.consecutiveFailures == 2)
        #expect(token.lastSuccess == Date(timeIntervalSince1970: 10))
        #expect(state.tokenLifetime == 300)
        #expect(state.jwks?.keys == 4)
        #expect(state.up == false)
        // New results continue from the migrated state.
        try await Self.record(store, Self.run(at: 40, Self.rejected))
        #expect(try await Self.state(store)?.steps[.token]?.consecutiveFailures == 3)
    }

    @Test("on disk: WAL mode, and a reopened database keeps its rows")
    func onDisk() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("nested/authprobe.sqlite").path
        do {
            let store = try await ResultStore.open(path: path)
            try await Self.record(store, Self.run(at: 5, Self.rejected))
            // The database describes credentials: authprobe's user only, the WAL too.
            for file in [path, path + "-wal"] {
                let permissions = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
                #expect(permissions == 0o600, "\(file)")
            }
        }
        let mode = try await DatabaseQueue(path: path).read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")

        let reopened = try await ResultStore.open(path: path)
        #expect(try await reopened.recent().count == 3)
        #expect(try await Self.state(reopened)?.steps[.token]?.consecutiveFailures == 1)
    }
}
