import AuthProbe
import Foundation
import Testing

/// Firing alerts, the outbox and the notification history in a database file on disk, across reopening it.
@Suite("Alert outbox store")
struct AlertOutboxStoreTests {
    static let t0 = Date(timeIntervalSince1970: 1_772_366_400)

    static func alert(_ name: AlertName, _ client: String = "svc", at time: Date = t0) -> ActiveAlert {
        ActiveAlert(
            key: AlertKey(name, environment: "prod", client: client),
            severity: .critical,
            outcome: .credentialRejected,
            httpStatus: 403,
            summary: "\(name.rawValue) \(client)",
            description: "seen twice",
            startsAt: time
        )
    }

    static func delivery(_ receiver: String, _ action: AlertAction) -> OutboxDelivery {
        OutboxDelivery(
            receiver: receiver,
            action: action.kind,
            alertKey: action.alert.key,
            body: Array("\(receiver) \(action.kind.rawValue) \(action.alert.key)".utf8)
        )
    }

    /// A fresh database file in a temporary directory, removed by `body`'s end.
    static func withDatabase(_ body: (String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outbox-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(directory.appendingPathComponent("authprobe.sqlite").path)
    }

    static func text(_ row: OutboxRow?) -> String? { row.map { String(decoding: $0.body, as: UTF8.self) } }

    @Test("fire stores the alert, resolve removes it, remind leaves it; one outbox row per delivery, in order")
    func applyAndFiring() async throws {
        try await Self.withDatabase { path in
            let store = try await ResultStore.open(path: path)
            let rejected = Self.alert(.credentialRejected)
            let expiring = Self.alert(.credentialExpiringSoon, "other", at: Self.t0.addingTimeInterval(10))
            let fires: [AlertAction] = [.fire(rejected), .fire(expiring)]
            try await store.apply(
                fires,
                deliveries: fires.flatMap { [Self.delivery("am", $0), Self.delivery("hook", $0)] },
                now: Self.t0
            )
            #expect(try await store.firingAlerts() == [rejected, expiring])
            var resolved = rejected
            resolved.endsAt = Self.t0.addingTimeInterval(60)
            let later: [AlertAction] = [.remind(expiring), .resolve(resolved)]
            try await store.apply(later, deliveries: [Self.delivery("hook", later[0])], now: Self.t0)
            #expect(try await store.firingAlerts() == [expiring])
            #expect(try await store.outboxSummary().depth == 5)
            #expect(try await store.outboxSummary().oldest == Self.t0)

            // A severity change: resolve and fire of one key in one call leave the new one firing.
            var critical = expiring
            critical.severity = .critical
            try await store.apply([.resolve(expiring), .fire(critical)], deliveries: [], now: Self.t0)
            #expect(try await store.firingAlerts() == [critical])
        }
    }

    @Test("a receiver's outbox is FIFO: a failed head stays first, with its attempts, error and due time")
    func fifoAndFailure() async throws {
        try await Self.withDatabase { path in
            let store = try await ResultStore.open(path: path)
            let actions: [AlertAction] = [
                .fire(Self.alert(.credentialRejected)), .fire(Self.alert(.apiFailing)),
                .resolve(Self.alert(.credentialRejected)),
            ]
            try await store.apply(actions, deliveries: actions.map { Self.delivery("am", $0) }, now: Self.t0)
            try await store.apply([], deliveries: [Self.delivery("hook", actions[1])], now: Self.t0)

            let head = try #require(try await store.nextOutbox(receiver: "am"))
            #expect(head.action == .fire && head.alertKey == actions[0].alert.key && head.attempts == 0)
            #expect(head.nextAttemptAt == Self.t0 && head.createdAt == Self.t0 && head.lastError == nil)
            let retry = Self.t0.addingTimeInterval(30)
            let longError = "connect_refused: " + String(repeating: "x", count: 500)
            #expect(try await store.failed(id: head.id, nextAttempt: retry, error: longError, status: nil, at: Self.t0))

            // Not due, still the head: nothing overtakes it.
            let again = try #require(try await store.nextOutbox(receiver: "am"))
            #expect(again.id == head.id && again.attempts == 1 && again.nextAttemptAt == retry)
            #expect(again.lastError?.count == 200 && again.lastError?.hasPrefix("connect_refused: x") == true)
            // Another receiver is not held up.
            #expect(Self.text(try await store.nextOutbox(receiver: "hook")) == "hook fire APIFailing prod/svc")

            #expect(try await store.delivered(id: head.id, at: retry, status: 200))
            #expect(try await store.delivered(id: head.id, at: retry, status: 200) == false)
            #expect(Self.text(try await store.nextOutbox(receiver: "am")) == "am fire APIFailing prod/svc")

            let history = try await store.notifications(limit: 10)
            #expect(history.map(\.outcome) == [.success, .failure])
            #expect(history[1].detail.count == 200 && history[1].httpStatus == nil && history[1].receiver == "am")
            #expect(history[0].httpStatus == 200 && history[0].action == .fire)
            #expect(history[0].alertKey == actions[0].alert.key)
            #expect(try await store.notifications(limit: 1).count == 1)
        }
    }

    @Test("after reopening the file: the firing alerts, the waiting rows and their order are all there")
    func restart() async throws {
        try await Self.withDatabase { path in
            let rejected = Self.alert(.credentialRejected)
            do {
                let store = try await ResultStore.open(path: path)
                let actions: [AlertAction] = [.fire(rejected), .remind(rejected)]
                try await store.apply(actions, deliveries: actions.map { Self.delivery("am", $0) }, now: Self.t0)
                let head = try #require(try await store.nextOutbox(receiver: "am"))
                try await store.failed(
                    id: head.id,
                    nextAttempt: Self.t0.addingTimeInterval(5),
                    error: "HTTP 503",
                    status: 503
                )
            }
            let reopened = try await ResultStore.open(path: path)
            #expect(try await reopened.firingAlerts() == [rejected])
            let head = try #require(try await reopened.nextOutbox(receiver: "am"))
            #expect(head.action == .fire && head.attempts == 1 && head.lastError == "HTTP 503")
            try await reopened.delivered(id: head.id, at: Self.t0, status: 200)
            #expect(try await reopened.nextOutbox(receiver: "am")?.action == .remind)
        }
    }

    @Test("a receiver over its capacity loses its oldest rows, counted and recorded; others keep theirs")
    func capacity() async throws {
        try await Self.withDatabase { path in
            let store = try await ResultStore.open(path: path)
            let actions = (0..<5).map { AlertAction.fire(Self.alert(.credentialRejected, "c\($0)")) }
            let first = try await store.apply(
                Array(actions.prefix(2)),
                deliveries: actions.prefix(2).map { Self.delivery("hook", $0) },
                now: Self.t0,
                capacity: 3
            )
            #expect(first.isEmpty)
            let dropped = try await store.apply(
                Array(actions.dropFirst(2)),
                deliveries: actions.dropFirst(2).map { Self.delivery("am", $0) }
                    + actions.dropFirst(2).map { Self.delivery("hook", $0) },
                now: Self.t0,
                capacity: 3
            )
            #expect(dropped == ["hook": 2])
            #expect(Self.text(try await store.nextOutbox(receiver: "hook")) == "hook fire CredentialRejected prod/c2")
            #expect(Self.text(try await store.nextOutbox(receiver: "am")) == "am fire CredentialRejected prod/c2")
            #expect(try await store.outboxSummary().depth == 6)
            let history = try await store.notifications()
            #expect(history.count == 2 && history.allSatisfy { $0.outcome == .dropped && $0.receiver == "hook" })

            // A receiver no longer configured: its rows go too.
            #expect(try await store.dropOutbox(keeping: ["hook"], at: Self.t0) == ["am": 3])
            #expect(try await store.nextOutbox(receiver: "am") == nil)
            #expect(try await store.outboxSummary().depth == 3)
        }
    }

    @Test("history is pruned with the raw results; an empty outbox has no oldest row")
    func pruneHistory() async throws {
        try await Self.withDatabase { path in
            let store = try await ResultStore.open(path: path)
            let action = AlertAction.fire(Self.alert(.credentialRejected))
            try await store.apply([action], deliveries: [Self.delivery("am", action)], now: Self.t0)
            let row = try #require(try await store.nextOutbox(receiver: "am"))
            try await store.failed(id: row.id, nextAttempt: Self.t0, error: "HTTP 500", status: 500, at: Self.t0)
            try await store.delivered(id: row.id, at: Self.t0.addingTimeInterval(100), status: 200)
            #expect(try await store.outboxSummary().depth == 0)
            #expect(try await store.outboxSummary().oldest == nil)
            try await store.prune(before: Self.t0.addingTimeInterval(50))
            #expect(try await store.notifications().map(\.outcome) == [.success])
            #expect(try await store.pruneNotifications(before: Self.t0.addingTimeInterval(200)) == 1)
            #expect(try await store.notifications().isEmpty)
        }
    }
}
