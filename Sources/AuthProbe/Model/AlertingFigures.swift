/// What the metrics show of alerting, read at scrape time: firing alerts by name and severity, notification
/// outcomes per receiver, the outbox. Plain values, so the metrics need no alerting type.
public struct AlertingFigures: Sendable, Equatable {
    /// Firing alerts per (alertname, severity), every pair present (0 when none fires).
    public var firing: [(alertname: String, severity: String, count: Int)]
    /// Notifications per (receiver, outcome), every configured receiver's outcomes present from the start.
    public var notifications: [(receiver: String, outcome: String, count: Int)]
    /// Deliveries waiting in the outbox.
    public var outboxDepth: Int
    /// Seconds the oldest waiting delivery has waited; 0 when none waits.
    public var outboxOldestAge: Double

    public init(
        firing: [(alertname: String, severity: String, count: Int)],
        notifications: [(receiver: String, outcome: String, count: Int)],
        outboxDepth: Int,
        outboxOldestAge: Double
    ) {
        self.firing = firing
        self.notifications = notifications
        self.outboxDepth = outboxDepth
        self.outboxOldestAge = outboxOldestAge
    }

    public static func == (lhs: AlertingFigures, rhs: AlertingFigures) -> Bool {
        lhs.firing.elementsEqual(rhs.firing) { $0 == $1 }
            && lhs.notifications.elementsEqual(rhs.notifications) { $0 == $1 }
            && lhs.outboxDepth == rhs.outboxDepth && lhs.outboxOldestAge == rhs.outboxOldestAge
    }
}
