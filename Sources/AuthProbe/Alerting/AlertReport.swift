import Foundation

/// `authprobe alerts`: the alerts firing and the recent notification history, as a table or JSON.
public enum AlertReport {
    /// What the store holds about alerting.
    public struct Contents: Sendable {
        public var firing: [ActiveAlert]
        public var notifications: [NotificationRecord]
        public var outboxDepth: Int
        public var outboxOldest: Date?

        public init(firing: [ActiveAlert], notifications: [NotificationRecord], outboxDepth: Int, outboxOldest: Date?) {
            self.firing = firing
            self.notifications = notifications
            self.outboxDepth = outboxDepth
            self.outboxOldest = outboxOldest
        }
    }

    /// Reads the firing alerts, the newest `limit` notifications and the outbox from `store`.
    public static func read(_ store: ResultStore, limit: Int) async throws -> Contents {
        let outbox = try await store.outboxSummary()
        return Contents(
            firing: try await store.firingAlerts(),
            notifications: try await store.notifications(limit: limit),
            outboxDepth: outbox.depth,
            outboxOldest: outbox.oldest
        )
    }

    public static func table(_ contents: Contents, now: Date = Date()) -> String {
        var text = "FIRING: \(contents.firing.count)\n"
        if !contents.firing.isEmpty {
            var rows = [["ALERT", "SEVERITY", "SCOPE", "ENVIRONMENT", "CLIENT", "OUTCOME", "HTTP", "SINCE", "SUMMARY"]]
            for alert in contents.firing.sorted(by: { $0.key < $1.key }) {
                rows.append([
                    alert.key.name.rawValue, alert.severity.rawValue, alert.scope.rawValue, alert.key.environment,
                    alert.key.client.isEmpty ? "-" : alert.key.client, alert.outcome?.rawValue ?? "-",
                    alert.httpStatus.map(String.init) ?? "-",
                    "\(Self.timestamp(alert.startsAt)) (\(Self.age(now.timeIntervalSince(alert.startsAt))) ago)",
                    alert.summary,
                ])
            }
            text += TextColumns.render(rows)
        }
        text += "\nNOTIFICATIONS: the latest \(contents.notifications.count), newest first\n"
        if !contents.notifications.isEmpty {
            var rows = [["AT", "RECEIVER", "ACTION", "ALERT", "ENVIRONMENT", "CLIENT", "OUTCOME", "HTTP", "DETAIL"]]
            for record in contents.notifications {
                rows.append([
                    Self.timestamp(record.at), record.receiver, record.action.rawValue,
                    record.alertKey?.name.rawValue ?? "-", record.alertKey?.environment ?? "-",
                    record.alertKey.map { $0.client.isEmpty ? "-" : $0.client } ?? "-", record.outcome.rawValue,
                    record.httpStatus.map(String.init) ?? "-", record.detail.isEmpty ? "-" : record.detail,
                ])
            }
            text += TextColumns.render(rows)
        }
        text += "\nOUTBOX: \(contents.outboxDepth) waiting"
        if let oldest = contents.outboxOldest {
            text += ", the oldest for \(Self.age(now.timeIntervalSince(oldest)))"
        }
        return text + "\n"
    }

    public static func json(_ contents: Contents) throws -> String {
        struct Document: Encodable {
            struct Alert: Encodable {
                var alertname, severity, scope, environment, client, summary, description: String
                var outcome: String?
                var httpStatus: Int?
                var startsAt: Date
            }
            struct Notification: Encodable {
                var at: Date
                var receiver, action, outcome, detail: String
                var alertname, environment, client: String?
                var httpStatus: Int?
            }
            var firing: [Alert]
            var notifications: [Notification]
            var outboxDepth: Int
            var outboxOldest: Date?
        }
        let document = Document(
            firing: contents.firing.sorted(by: { $0.key < $1.key }).map {
                Document.Alert(
                    alertname: $0.key.name.rawValue,
                    severity: $0.severity.rawValue,
                    scope: $0.scope.rawValue,
                    environment: $0.key.environment,
                    client: $0.key.client,
                    summary: $0.summary,
                    description: $0.description,
                    outcome: $0.outcome?.rawValue,
                    httpStatus: $0.httpStatus,
                    startsAt: $0.startsAt
                )
            },
            notifications: contents.notifications.map {
                Document.Notification(
                    at: $0.at,
                    receiver: $0.receiver,
                    action: $0.action.rawValue,
                    outcome: $0.outcome.rawValue,
                    detail: $0.detail,
                    alertname: $0.alertKey?.name.rawValue,
                    environment: $0.alertKey?.environment,
                    client: $0.alertKey?.client,
                    httpStatus: $0.httpStatus
                )
            },
            outboxDepth: contents.outboxDepth,
            outboxOldest: contents.outboxOldest
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(document), as: UTF8.self) + "\n"
    }

    private static func timestamp(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }

    /// `45s`, `12m`, `3h10m`, `2d4h`.
    static func age(_ seconds: TimeInterval) -> String {
        let total = max(0, Int(seconds))
        switch total {
        case ..<60: return "\(total)s"
        case ..<3600: return "\(total / 60)m"
        case ..<86_400: return "\(total / 3600)h\(total % 3600 / 60)m"
        default: return "\(total / 86_400)d\(total % 86_400 / 3600)h"
        }
    }
}
