import Foundation
import GRDB
import Logging

/// The one owner of the SQLite database: migrations, inserts, target states, queries and retention.
///
/// Nothing else opens the file or writes SQL. The store never sees a secret: step details are
/// already cleaned by the prober (``DetailCleaner``), and tokens are reduced to their lifetime.
public struct ResultStore: Sendable {
    /// Internal, not private: the store's extensions in other files (`ResultStore+Alerts.swift`) use it.
    let writer: any DatabaseWriter

    /// Wraps an open database (a pool in production, a queue in tests) and migrates it.
    public init(writer: any DatabaseWriter) throws {
        self.writer = writer
        try Self.migrator.migrate(writer)
    }

    /// Opens (creating if needed) the database file in WAL mode and migrates it.
    ///
    /// A database another process holds locked (a backup, an `sqlite3` shell, an authprobe still stopping) is
    /// retried for up to `lockWait`, with a log line every few seconds, before giving up. Every failure is a
    /// ``StoreError`` that names `path`.
    public static func open(
        path: String,
        lockWait: Duration = .seconds(60),
        logger: Logger = Logger(label: "authprobe.store")
    ) async throws -> ResultStore {
        do {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError.cannotOpen(path, error.localizedDescription)
        }
        // The database describes credentials: readable by authprobe's user only. SQLite gives the -wal and -shm
        // files the main file's permissions.
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        var configuration = Configuration()
        // SQLite waits on a lock this long before an attempt fails (each attempt at start, then every write):
        // 5 s, or half the wait when that is shorter, so that a short wait still logs before it gives up.
        let busySeconds = min(5, Durations.seconds(lockWait) / 2)
        configuration.busyMode = .timeout(max(busySeconds, 0.01))
        configuration.prepareDatabase { db in
            // WAL with synchronous=NORMAL: no fsync per probe result; a power loss may lose the last results,
            // never corrupt the database.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        let settings = configuration
        let clock = ContinuousClock()
        let start = clock.now
        var lastLog: ContinuousClock.Instant?
        while true {
            do {
                // On a thread of its own: SQLite waits on a lock by sleeping, which must not hold up one of the
                // few threads that run every task of the process.
                return try await Self.onOwnThread {
                    // A pool runs in WAL mode: scrapes and reports read while probes write.
                    let pool = try DatabasePool(path: path, configuration: settings)
                    do {
                        return try ResultStore(writer: pool)
                    } catch let error where !Self.isLocked(error) {
                        throw StoreError.cannotMigrate(path, Self.reason(error))
                    }
                }
            } catch let error as StoreError {
                throw error
            } catch let error where Self.isLocked(error) {
                let waited = start.duration(to: clock.now)
                guard waited < lockWait else {
                    throw StoreError.locked(path, "still locked after \(Int(Durations.seconds(waited).rounded())) s")
                }
                if lastLog.map({ $0.duration(to: clock.now) >= .seconds(4) }) ?? true {
                    lastLog = clock.now
                    logger.warning(
                        "database is locked by another process; retrying",
                        metadata: [
                            "store.path": "\(path)",
                            "store.waited_s": "\(Int(Durations.seconds(waited)))",
                            "store.limit_s": "\(Int(Durations.seconds(lockWait)))",
                        ]
                    )
                }
                try await Task.sleep(for: .milliseconds(200))
            } catch {
                throw StoreError.cannotOpen(path, Self.reason(error))
            }
        }
    }

    /// Runs blocking `body` on a new thread.
    private static func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    /// SQLite's "another connection holds the lock" answers.
    private static func isLocked(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED
    }

    private static func reason(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? "\(error.resultCode)" }
        return "\(error)"
    }

    /// Migrations are append-only: never edit one that has shipped.
    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "step_result") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("time", .double).notNull()
                table.column("environment", .text).notNull()
                table.column("client", .text).notNull()
                table.column("step", .text).notNull()
                table.column("outcome", .text).notNull()
                table.column("http_status", .integer)
                table.column("duration_seconds", .double).notNull()
                table.column("token_lifetime_seconds", .integer)
                table.column("jwks_keys", .integer)
                table.column("detail", .text).notNull()
            }
            try db.create(
                index: "step_result_target",
                on: "step_result",
                columns: ["environment", "client", "step", "id"]
            )
            try db.create(index: "step_result_time", on: "step_result", columns: ["time"])
        }
        migrator.registerMigration("v2") { db in
            // The latest state of every step, kept apart from the raw rows so that restoring it is one small
            // read however many rows there are, and survives retention.
            try db.create(table: "step_state") { table in
                table.column("environment", .text).notNull()
                table.column("client", .text).notNull()
                table.column("step", .text).notNull()
                table.column("last_outcome", .text).notNull()
                table.column("last_time", .double).notNull()
                table.column("last_success", .double)
                table.column("consecutive_failures", .integer).notNull()
                table.column("token_lifetime_seconds", .integer)
                table.column("jwks_keys", .integer)
                table.primaryKey(["environment", "client", "step"])
            }
            try db.execute(
                sql: """
                    WITH last_success AS (
                      SELECT environment, client, step, MAX(id) AS id, MAX(time) AS time
                      FROM step_result WHERE outcome = 'success' GROUP BY environment, client, step
                    ),
                    grouped AS (
                      SELECT r.environment, r.client, r.step, MAX(r.id) AS last_id, s.time AS last_success,
                             SUM(CASE WHEN s.id IS NULL OR r.id > s.id THEN 1 ELSE 0 END) AS failures,
                             (SELECT token_lifetime_seconds FROM step_result t WHERE t.environment = r.environment
                                AND t.client = r.client AND t.step = r.step AND t.token_lifetime_seconds IS NOT NULL
                                ORDER BY t.id DESC LIMIT 1) AS lifetime,
                             (SELECT jwks_keys FROM step_result k WHERE k.environment = r.environment
                                AND k.client = r.client AND k.step = r.step AND k.jwks_keys IS NOT NULL
                                ORDER BY k.id DESC LIMIT 1) AS keys
                      FROM step_result r
                      LEFT JOIN last_success s
                        ON s.environment = r.environment AND s.client = r.client AND s.step = r.step
                      GROUP BY r.environment, r.client, r.step
                    )
                    INSERT INTO step_state
                    SELECT g.environment, g.client, g.step, x.outcome, x.time, g.last_success, g.failures,
                           g.lifetime, g.keys
                    FROM grouped g JOIN step_result x ON x.id = g.last_id
                    """
            )
        }
        migrator.registerMigration("v3") { db in
            // Phase timings of every result, for capacity reviews of where the time goes (NULL: the phase did
            // not happen, e.g. TLS on plain http or anything after a failure; rows from before v3).
            try db.alter(table: "step_result") { table in
                // Spelled out, not derived from Phase: a shipped migration must never change.
                for column in ["dns", "connect", "tls", "processing", "transfer"] {
                    table.add(column: "\(column)_seconds", .double)
                }
            }
        }
        migrator.registerMigration("v4") { db in
            // One row per target: its whole TargetState as JSON, written in the same transaction as the raw
            // rows. Restoring it is one small read however many rows there are, and it survives retention.
            try db.create(table: "target_state") { table in
                table.column("environment", .text).notNull()
                table.column("client", .text).notNull()
                table.column("state", .text).notNull()
                table.primaryKey(["environment", "client"])
            }
            // The step states of v2 carry over, so an upgrade keeps every credential's failure count.
            var states: [TargetKey: TargetState] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM step_state") {
                guard let step = row.checked("step").flatMap(Step.init(rawValue:)),
                    let outcome = row.checked("last_outcome").flatMap(Outcome.init(rawValue:)),
                    let lastTime = row.checked("last_time", as: Double.self),
                    let environment = row.checked("environment", as: String.self),
                    let client = row.checked("client", as: String.self)
                else { continue }
                let key = TargetKey(environment: environment, client: client)
                var state = states[key] ?? TargetState(key: key)
                let lastSuccess = row.checked("last_success", as: Double.self)
                state.steps[step] = StepState(
                    outcome: outcome,
                    lastAttempt: Date(timeIntervalSince1970: lastTime),
                    lastSuccess: lastSuccess.map { Date(timeIntervalSince1970: $0) },
                    consecutiveFailures: max(0, row.checked("consecutive_failures", as: Int.self) ?? 0)
                )
                if let lifetime = row.checked("token_lifetime_seconds", as: Int.self) { state.tokenLifetime = lifetime }
                if let keys = row.checked("jwks_keys", as: Int.self) {
                    state.jwks = JWKSState(keys: keys, fingerprint: nil)
                }
                if lastTime >= state.lastRun?.timeIntervalSince1970 ?? -.infinity {
                    state.lastRun = Date(timeIntervalSince1970: lastTime)
                }
                states[key] = state
            }
            for state in states.values {
                var state = state
                state.lastRunSucceeded = state.steps.values.allSatisfy { $0.outcome == .success }
                try db.execute(
                    sql: "INSERT INTO target_state (environment, client, state) VALUES (?, ?, ?)",
                    arguments: [state.key.environment, state.key.client, try Self.encode(state)]
                )
            }
            try db.drop(table: "step_state")
        }
        migrator.registerMigration("v5") { db in
            // The firing alerts (restored on start), the durable outbox of deliveries not yet accepted by their
            // receiver, and the history of every delivery attempt's end (for `authprobe alerts`).
            try db.create(table: "alert") { table in
                // "name\tenvironment\tclient"
                table.column("key", .text).notNull().primaryKey()
                table.column("alert", .text).notNull()
                table.column("starts_at", .double).notNull()
            }
            try db.create(table: "outbox") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("receiver", .text).notNull()
                table.column("action", .text).notNull()
                table.column("alert_key", .text).notNull()
                table.column("body", .blob).notNull()
                table.column("created_at", .double).notNull()
                table.column("attempts", .integer).notNull().defaults(to: 0)
                table.column("next_attempt_at", .double).notNull()
                table.column("last_error", .text)
            }
            try db.create(index: "outbox_receiver", on: "outbox", columns: ["receiver", "id"])
            try db.create(table: "notification") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("at", .double).notNull()
                table.column("receiver", .text).notNull()
                table.column("alert_key", .text).notNull()
                table.column("action", .text).notNull()
                table.column("outcome", .text).notNull()
                table.column("http_status", .integer)
                table.column("detail", .text).notNull()
            }
            try db.create(index: "notification_at", on: "notification", columns: ["at"])
        }
        return migrator
    }

    /// Records every step of a run and the target's state after it, in one transaction.
    public func insert(_ result: ProbeResult, state: TargetState) async throws {
        try await self.insert([result], states: [state])
    }

    /// Inserts several results, and the targets' states after them, in one transaction.
    public func insert(_ results: [ProbeResult], states: [TargetState]) async throws {
        // Encoded before the transaction: only the database work holds the writer.
        let states = try states.map { ($0.key, try Self.encode($0)) }
        try await self.writer.write { db in
            // Cached statements: the same two statements run for every result, prepared once per connection.
            let insertResult = try db.cachedStatement(
                sql: """
                    INSERT INTO step_result
                      (time, environment, client, step, outcome, http_status, duration_seconds,
                       token_lifetime_seconds, jwks_keys, detail,
                       dns_seconds, connect_seconds, tls_seconds, processing_seconds, transfer_seconds)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            )
            let upsertState = try db.cachedStatement(
                sql: """
                    INSERT INTO target_state (environment, client, state) VALUES (?, ?, ?)
                    ON CONFLICT (environment, client) DO UPDATE SET state = excluded.state
                    """
            )
            for result in results {
                for step in result.steps {
                    let timings = step.timings
                    try insertResult.execute(arguments: [
                        result.startedAt.timeIntervalSince1970, result.target.environment, result.target.client,
                        step.step.rawValue, step.outcome.rawValue, step.httpStatus,
                        Durations.seconds(timings.total), step.tokenLifetime, step.jwksKeys, Self.storedDetail(step),
                        timings.dns.map(Durations.seconds), timings.connect.map(Durations.seconds),
                        timings.tls.map(Durations.seconds), timings.processing.map(Durations.seconds),
                        timings.transfer.map(Durations.seconds),
                    ])
                }
            }
            for (key, state) in states {
                try upsertState.execute(arguments: [key.environment, key.client, state])
            }
        }
    }

    /// The detail and notes as cleaned by the prober, cut to ``StepResult/maxDetailBytes``.
    private static func storedDetail(_ step: StepResult) -> String {
        step.summary
    }

    private static func encode(_ state: TargetState) throws -> String {
        String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
    }

    /// Every target's state as last written, read from `target_state` (never from the raw rows, which
    /// retention prunes). A row that does not decode (edited by hand, written by a newer version) is skipped
    /// and named in `skipped`, never a crash.
    public func states() async throws -> (states: [TargetState], skipped: [TargetKey]) {
        try await self.writer.read { db in
            var states: [TargetState] = []
            var skipped: [TargetKey] = []
            let decoder = JSONDecoder()
            let rows = try Row.fetchCursor(db, sql: "SELECT environment, client, state FROM target_state")
            while let row = try rows.next() {
                let key = TargetKey(
                    environment: row.checked("environment") ?? "",
                    client: row.checked("client") ?? ""
                )
                guard let text = row.checked("state", as: String.self),
                    let state = try? decoder.decode(TargetState.self, from: Data(text.utf8)),
                    state.key == key
                else {
                    skipped.append(key)
                    continue
                }
                states.append(state)
            }
            return (states, skipped)
        }
    }

    /// The newest step results, newest first (for reports, the `probe` command and tests).
    public func recent(limit: Int = 100) async throws -> [StoredStepResult] {
        try await self.writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT time, environment, client, step, outcome, http_status, duration_seconds,
                           token_lifetime_seconds, detail
                    FROM step_result ORDER BY id DESC LIMIT ?
                    """,
                arguments: [limit]
            ).compactMap { row in
                // A row that does not decode is left out, never a trap.
                guard let time = row.checked("time", as: Double.self),
                    let environment = row.checked("environment", as: String.self),
                    let client = row.checked("client", as: String.self),
                    let step = row.checked("step").flatMap(Step.init(rawValue:)),
                    let outcome = row.checked("outcome", as: String.self)
                else { return nil }
                return StoredStepResult(
                    time: Date(timeIntervalSince1970: time),
                    target: TargetKey(environment: environment, client: client),
                    step: step,
                    outcome: outcome,
                    httpStatus: row.checked("http_status"),
                    durationSeconds: row.checked("duration_seconds") ?? 0,
                    tokenLifetime: row.checked("token_lifetime_seconds"),
                    detail: row.checked("detail") ?? ""
                )
            }
        }
    }

    /// Deletes raw rows and notification history older than `cutoff`; returns how many raw rows went.
    @discardableResult
    public func prune(before cutoff: Date) async throws -> Int {
        try await self.writer.write { db in
            try db.execute(sql: "DELETE FROM step_result WHERE time < ?", arguments: [cutoff.timeIntervalSince1970])
            let removed = db.changesCount
            try Self.pruneNotifications(db, before: cutoff)
            return removed
        }
    }
}

/// One stored step result as read back.
public struct StoredStepResult: Sendable, Equatable {
    public var time: Date
    public var target: TargetKey
    public var step: Step
    /// The outcome label as stored (kept as text so rows from newer versions still read).
    public var outcome: String
    public var httpStatus: Int?
    public var durationSeconds: Double
    public var tokenLifetime: Int?
    public var detail: String
}
