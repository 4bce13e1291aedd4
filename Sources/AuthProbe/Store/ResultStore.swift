import Foundation
import GRDB

/// The one owner of the SQLite database: migrations, inserts, restore queries and retention.
///
/// Nothing else opens the file or writes SQL. The store never sees a secret: step details are
/// already sanitized by the prober, and tokens are reduced to their lifetime.
public struct ResultStore: Sendable {
    private let writer: any DatabaseWriter

    /// Wraps an open database (a pool in production, a queue in tests) and migrates it.
    public init(writer: any DatabaseWriter) throws {
        self.writer = writer
        try Self.migrator.migrate(writer)
    }

    /// Opens (creating if needed) the database file in WAL mode.
    public static func open(path: String) throws -> ResultStore {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // WAL with synchronous=NORMAL: no fsync per probe result; a power loss may lose the last results,
            // never corrupt the database.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        // A pool runs in WAL mode: scrapes and reports read while probes write.
        let pool = try DatabasePool(path: path, configuration: configuration)
        return try ResultStore(writer: pool)
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
        return migrator
    }

    /// Records every step of a run, and the steps' latest state, in one transaction.
    public func insert(_ result: ProbeResult) async throws {
        try await self.insert([result])
    }

    /// Inserts several results in one transaction.
    public func insert(_ results: [ProbeResult]) async throws {
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
                    INSERT INTO step_state
                      (environment, client, step, last_outcome, last_time, last_success, consecutive_failures,
                       token_lifetime_seconds, jwks_keys)
                    VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?4 = 'success' THEN ?5 END,
                            CASE WHEN ?4 = 'success' THEN 0 ELSE 1 END, ?6, ?7)
                    ON CONFLICT (environment, client, step) DO UPDATE SET
                      last_outcome = excluded.last_outcome,
                      last_time = excluded.last_time,
                      last_success = COALESCE(excluded.last_success, step_state.last_success),
                      consecutive_failures = CASE WHEN excluded.last_outcome = 'success' THEN 0
                                                  ELSE step_state.consecutive_failures + 1 END,
                      token_lifetime_seconds = COALESCE(excluded.token_lifetime_seconds,
                                                        step_state.token_lifetime_seconds),
                      jwks_keys = COALESCE(excluded.jwks_keys, step_state.jwks_keys)
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
                    try upsertState.execute(arguments: [
                        result.target.environment, result.target.client, step.step.rawValue, step.outcome.rawValue,
                        result.startedAt.timeIntervalSince1970, step.tokenLifetime, step.jwksKeys,
                    ])
                }
            }
        }
    }

    private static func storedDetail(_ step: StepResult) -> String {
        step.notes.isEmpty ? step.detail : "\(step.detail) [\(step.notes.joined(separator: "; "))]"
    }

    /// The state the metrics describe history with, per target and step: read from `step_state`, which
    /// retention never prunes, so a credential broken for longer than the retention still looks broken.
    public func history() async throws -> StoreHistory {
        try await self.writer.read { db in
            var history = StoreHistory()
            var newestKeys: [String: (time: Double, keys: Int)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM step_state") {
                guard let step = Step(rawValue: row["step"]), let outcome = Outcome(rawValue: row["last_outcome"])
                else { continue }
                let target = TargetKey(environment: row["environment"], client: row["client"])
                let lastSuccess: Double? = row["last_success"]
                history.steps.append(
                    StepHistory(
                        target: target,
                        step: step,
                        lastOutcome: outcome,
                        lastSuccess: lastSuccess.map { Date(timeIntervalSince1970: $0) },
                        consecutiveFailures: row["consecutive_failures"]
                    )
                )
                if let lifetime: Int = row["token_lifetime_seconds"] {
                    history.tokenLifetimes[target] = lifetime
                }
                let time: Double = row["last_time"]
                if let keys: Int = row["jwks_keys"], time >= newestKeys[target.environment]?.time ?? -.infinity {
                    newestKeys[target.environment] = (time, keys)
                }
            }
            history.jwksKeys = newestKeys.mapValues(\.keys)
            return history
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
            ).map { row in
                StoredStepResult(
                    time: Date(timeIntervalSince1970: row["time"]),
                    target: TargetKey(environment: row["environment"], client: row["client"]),
                    step: Step(rawValue: row["step"]) ?? .discovery,
                    outcome: row["outcome"],
                    httpStatus: row["http_status"],
                    durationSeconds: row["duration_seconds"],
                    tokenLifetime: row["token_lifetime_seconds"],
                    detail: row["detail"]
                )
            }
        }
    }

    /// Deletes raw rows older than `cutoff`; returns how many went.
    @discardableResult
    public func prune(before cutoff: Date) async throws -> Int {
        try await self.writer.write { db in
            try db.execute(sql: "DELETE FROM step_result WHERE time < ?", arguments: [cutoff.timeIntervalSince1970])
            return db.changesCount
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

/// What a restart needs to describe history truthfully.
public struct StoreHistory: Sendable {
    public var steps: [StepHistory] = []
    public var tokenLifetimes: [TargetKey: Int] = [:]
    public var jwksKeys: [String: Int] = [:]

    public init() {}
}

/// The history of one step of one target.
public struct StepHistory: Sendable, Equatable {
    public var target: TargetKey
    public var step: Step
    public var lastOutcome: Outcome
    public var lastSuccess: Date?
    /// Failed results since the last success (all of them when there was none).
    public var consecutiveFailures: Int

    public init(target: TargetKey, step: Step, lastOutcome: Outcome, lastSuccess: Date?, consecutiveFailures: Int) {
        self.target = target
        self.step = step
        self.lastOutcome = lastOutcome
        self.lastSuccess = lastSuccess
        self.consecutiveFailures = consecutiveFailures
    }
}
