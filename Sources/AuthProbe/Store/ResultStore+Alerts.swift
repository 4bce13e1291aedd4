import Foundation
import GRDB

/// Alert state, the durable outbox and the notification history (migration v5).
///
/// The outbox keeps each receiver's deliveries in the order they were enqueued: the notifier always takes a
/// receiver's oldest row, so a resolve never overtakes its fire. A receiver that stays unreachable cannot grow
/// the database without bound: past ``outboxCapacityPerReceiver`` rows, the oldest rows of that receiver are
/// dropped (and recorded as `dropped` in the history).
extension ResultStore {
    /// The most rows one receiver may have waiting; the oldest beyond it are dropped.
    public static let outboxCapacityPerReceiver = 10_000

    /// Records `actions` and enqueues `deliveries` in one transaction.
    ///
    /// `fire` inserts or replaces the alert's row, `resolve` deletes it, `remind` leaves it; actions apply in
    /// order (a severity change is a resolve followed by a fire of the same key). Each delivery becomes one
    /// outbox row, due at `now`. A receiver left with more than `capacity` rows loses its oldest ones.
    ///
    /// - Returns: how many rows were dropped, per receiver (only receivers that lost rows).
    @discardableResult
    public func apply(
        _ actions: [AlertAction],
        deliveries: [OutboxDelivery],
        now: Date,
        capacity: Int = ResultStore.outboxCapacityPerReceiver
    ) async throws -> [String: Int] {
        precondition(capacity > 0, "an outbox capacity must be positive")
        // Encoded before the transaction: only the database work holds the writer.
        let encoder = Self.alertEncoder
        let changes = try actions.map { action -> (AlertAction, String?) in
            guard case .fire(let alert) = action else { return (action, nil) }
            return (action, String(decoding: try encoder.encode(alert), as: UTF8.self))
        }
        return try await self.writer.write { db in
            for (action, json) in changes {
                let key = action.alert.key.storageKey
                switch action {
                case .fire(let alert):
                    try db.execute(
                        sql: """
                            INSERT INTO alert (key, alert, starts_at) VALUES (?, ?, ?)
                            ON CONFLICT (key) DO UPDATE SET alert = excluded.alert, starts_at = excluded.starts_at
                            """,
                        arguments: [key, json, alert.startsAt.timeIntervalSince1970]
                    )
                case .resolve:
                    try db.execute(sql: "DELETE FROM alert WHERE key = ?", arguments: [key])
                case .remind:
                    break
                }
            }
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO outbox (receiver, action, alert_key, body, created_at, attempts, next_attempt_at)
                    VALUES (?, ?, ?, ?, ?, 0, ?)
                    """
            )
            let time = now.timeIntervalSince1970
            for delivery in deliveries {
                try insert.execute(arguments: [
                    delivery.receiver, delivery.action.rawValue, delivery.alertKey.storageKey, Data(delivery.body),
                    time, time,
                ])
            }
            var dropped: [String: Int] = [:]
            for receiver in Set(deliveries.map(\.receiver)) {
                let count = try Self.trimOutbox(db, receiver: receiver, capacity: capacity, now: now)
                if count > 0 { dropped[receiver] = count }
            }
            return dropped
        }
    }

    /// Drops the oldest rows of `receiver` beyond `capacity`, each with a `dropped` history row.
    private static func trimOutbox(_ db: Database, receiver: String, capacity: Int, now: Date) throws -> Int {
        let depth = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE receiver = ?", arguments: [receiver])
        let excess = (depth ?? 0) - capacity
        guard excess > 0 else { return 0 }
        let victims = try Row.fetchAll(
            db,
            sql: "SELECT id, alert_key, action FROM outbox WHERE receiver = ? ORDER BY id LIMIT ?",
            arguments: [receiver, excess]
        )
        for row in victims {
            try Self.drop(
                row,
                of: receiver,
                db,
                at: now,
                reason: "outbox over \(capacity) waiting deliveries for this receiver: oldest dropped"
            )
        }
        return victims.count
    }

    /// Deletes an outbox row (`id`, `alert_key`, `action`) without sending it, and records it as dropped.
    private static func drop(_ row: Row, of receiver: String, _ db: Database, at time: Date, reason: String) throws {
        try Self.recordNotification(
            db,
            at: time,
            receiver: receiver,
            alertKey: row.checked("alert_key") ?? "",
            action: row.checked("action") ?? "",
            outcome: .dropped,
            status: nil,
            detail: reason
        )
        try db.execute(sql: "DELETE FROM outbox WHERE id = ?", arguments: [row.checked("id", as: Int64.self)])
    }

    /// The alerts firing as last applied, oldest first. A row that does not decode is skipped.
    public func firingAlerts() async throws -> [ActiveAlert] {
        try await self.writer.read { db in
            let decoder = Self.alertDecoder
            return try String.fetchAll(db, sql: "SELECT alert FROM alert ORDER BY starts_at, key").compactMap {
                try? decoder.decode(ActiveAlert.self, from: Data($0.utf8))
            }
        }
    }

    /// The oldest waiting row of `receiver`, due or not: a receiver's deliveries go out strictly in order.
    public func nextOutbox(receiver: String) async throws -> OutboxRow? {
        try await self.writer.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT id, receiver, action, alert_key, body, created_at, attempts, next_attempt_at, last_error
                    FROM outbox WHERE receiver = ? ORDER BY id LIMIT 1
                    """,
                arguments: [receiver]
            ).flatMap(Self.outboxRow)
        }
    }

    private static func outboxRow(_ row: Row) -> OutboxRow? {
        guard let id = row.checked("id", as: Int64.self),
            let receiver = row.checked("receiver", as: String.self),
            let body = row.checked("body", as: Data.self),
            let created = row.checked("created_at", as: Double.self),
            let next = row.checked("next_attempt_at", as: Double.self)
        else { return nil }
        return OutboxRow(
            id: id,
            receiver: receiver,
            // An action this version does not know is sent as it is; `fire` only names it in logs.
            action: row.checked("action").flatMap(AlertActionKind.init(rawValue:)) ?? .fire,
            alertKey: row.checked("alert_key").flatMap(AlertKey.init(storageKey:)),
            body: Array(body),
            createdAt: Date(timeIntervalSince1970: created),
            attempts: row.checked("attempts") ?? 0,
            nextAttemptAt: Date(timeIntervalSince1970: next),
            lastError: row.checked("last_error")
        )
    }

    /// The receiver accepted row `id`: it leaves the outbox and a `success` enters the history.
    /// - Returns: false when the row was already gone (dropped meanwhile).
    @discardableResult
    public func delivered(id: Int64, at time: Date, status: Int?) async throws -> Bool {
        try await self.finish(id: id, at: time, outcome: .success, status: status, detail: "delivered")
    }

    /// Row `id` is given up without being accepted (the receiver refused its body for good): it leaves the outbox
    /// and a `dropped` enters the history. `reason` is authprobe's own words, cut to 200 characters.
    @discardableResult
    public func discard(id: Int64, at time: Date, status: Int?, reason: String) async throws -> Bool {
        try await self.finish(id: id, at: time, outcome: .dropped, status: status, detail: reason)
    }

    private func finish(
        id: Int64,
        at time: Date,
        outcome: NotificationOutcome,
        status: Int?,
        detail: String
    ) async throws -> Bool {
        try await self.writer.write { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT receiver, alert_key, action FROM outbox WHERE id = ?",
                    arguments: [id]
                )
            else { return false }
            try db.execute(sql: "DELETE FROM outbox WHERE id = ?", arguments: [id])
            try Self.recordNotification(
                db,
                at: time,
                receiver: row.checked("receiver") ?? "",
                alertKey: row.checked("alert_key") ?? "",
                action: row.checked("action") ?? "",
                outcome: outcome,
                status: status,
                detail: detail
            )
            return true
        }
    }

    /// An attempt at row `id` failed: its attempt count goes up, it waits until `nextAttempt`, and a `failure`
    /// enters the history. `error` is authprobe's own words (never a response body), cut to 200 characters.
    /// - Returns: false when the row was already gone.
    @discardableResult
    public func failed(id: Int64, nextAttempt: Date, error: String, status: Int?, at time: Date = Date())
        async throws -> Bool
    {
        let error = Self.bounded(error)
        return try await self.writer.write { db in
            try db.execute(
                sql: """
                    UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?
                    """,
                arguments: [nextAttempt.timeIntervalSince1970, error, id]
            )
            guard db.changesCount > 0,
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT receiver, alert_key, action FROM outbox WHERE id = ?",
                    arguments: [id]
                )
            else { return false }
            try Self.recordNotification(
                db,
                at: time,
                receiver: row.checked("receiver") ?? "",
                alertKey: row.checked("alert_key") ?? "",
                action: row.checked("action") ?? "",
                outcome: .failure,
                status: status,
                detail: error
            )
            return true
        }
    }

    /// Drops every waiting row of a receiver not in `receivers` (one removed from the configuration), each with a
    /// `dropped` history row. - Returns: how many rows went, per receiver.
    @discardableResult
    public func dropOutbox(keeping receivers: Set<String>, at time: Date) async throws -> [String: Int] {
        try await self.writer.write { db in
            var dropped: [String: Int] = [:]
            let rows = try Row.fetchAll(db, sql: "SELECT id, receiver, alert_key, action FROM outbox ORDER BY id")
            for row in rows {
                guard let receiver = row.checked("receiver", as: String.self), !receivers.contains(receiver) else {
                    continue
                }
                try Self.drop(row, of: receiver, db, at: time, reason: "receiver no longer configured")
                dropped[receiver, default: 0] += 1
            }
            return dropped
        }
    }

    /// How many deliveries wait, over all receivers, and when the oldest was enqueued.
    public func outboxSummary() async throws -> (depth: Int, oldest: Date?) {
        try await self.writer.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT COUNT(*) AS depth, MIN(created_at) AS oldest FROM outbox")
            return (
                row?.checked("depth", as: Int.self) ?? 0,
                row?.checked("oldest", as: Double.self).map { Date(timeIntervalSince1970: $0) }
            )
        }
    }

    /// The newest entries of the notification history, newest first.
    public func notifications(limit: Int = 100) async throws -> [NotificationRecord] {
        try await self.writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, at, receiver, alert_key, action, outcome, http_status, detail
                    FROM notification ORDER BY id DESC LIMIT ?
                    """,
                arguments: [max(0, limit)]
            ).compactMap { row in
                guard let id = row.checked("id", as: Int64.self),
                    let at = row.checked("at", as: Double.self),
                    let action = row.checked("action").flatMap(AlertActionKind.init(rawValue:)),
                    let outcome = row.checked("outcome").flatMap(NotificationOutcome.init(rawValue:))
                else { return nil }
                return NotificationRecord(
                    id: id,
                    at: Date(timeIntervalSince1970: at),
                    receiver: row.checked("receiver") ?? "",
                    alertKey: row.checked("alert_key").flatMap(AlertKey.init(storageKey:)),
                    action: action,
                    outcome: outcome,
                    httpStatus: row.checked("http_status"),
                    detail: row.checked("detail") ?? ""
                )
            }
        }
    }

    /// Deletes notification history older than `cutoff` (``prune(before:)`` does this with the raw results).
    @discardableResult
    public func pruneNotifications(before cutoff: Date) async throws -> Int {
        try await self.writer.write { db in try Self.pruneNotifications(db, before: cutoff) }
    }

    @discardableResult
    static func pruneNotifications(_ db: Database, before cutoff: Date) throws -> Int {
        try db.execute(sql: "DELETE FROM notification WHERE at < ?", arguments: [cutoff.timeIntervalSince1970])
        return db.changesCount
    }

    private static func recordNotification(
        _ db: Database,
        at time: Date,
        receiver: String,
        alertKey: String,
        action: String,
        outcome: NotificationOutcome,
        status: Int?,
        detail: String
    ) throws {
        try db.execute(
            sql: """
                INSERT INTO notification (at, receiver, alert_key, action, outcome, http_status, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                time.timeIntervalSince1970, receiver, alertKey, action, outcome.rawValue, status, Self.bounded(detail),
            ]
        )
    }

    /// Text cut to ``NotificationRecord/maxDetailLength`` characters.
    static func bounded(_ text: String) -> String {
        text.count <= NotificationRecord.maxDetailLength
            ? text : String(text.prefix(NotificationRecord.maxDetailLength - 1)) + "…"
    }

    /// Dates as Foundation's own numbers (not Unix seconds): an alert reads back exactly equal to the one written.
    private static var alertEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }

    private static var alertDecoder: JSONDecoder { JSONDecoder() }
}

extension AlertKey {
    /// `name<TAB>environment<TAB>client`: the key of the `alert` table and the `alert_key` of the outbox and
    /// history (names never contain a tab: the configuration allows only `A-Z a-z 0-9 - _ .` in them).
    public var storageKey: String { "\(self.name.rawValue)\t\(self.environment)\t\(self.client)" }

    /// Parses ``storageKey``; nil for text that is not one or names an alert this version does not know.
    public init?(storageKey: String) {
        let parts = storageKey.split(separator: "\t", omittingEmptySubsequences: false)
        guard parts.count == 3, let name = AlertName(rawValue: String(parts[0])) else { return nil }
        self.init(name, environment: String(parts[1]), client: String(parts[2]))
    }
}
