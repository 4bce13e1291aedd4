import Foundation

/// How one notification ended: accepted, failed (retried later), or given up (never sent).
public enum NotificationOutcome: String, Sendable, Codable, CaseIterable, Comparable {
    case success, failure, dropped

    public static func < (lhs: NotificationOutcome, rhs: NotificationOutcome) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}

/// One entry of the notification history: a delivery attempt's end, for `authprobe alerts`.
public struct NotificationRecord: Sendable, Equatable {
    public var id: Int64
    public var at: Date
    public var receiver: String
    /// nil when the stored key does not name a known alert (written by a newer version).
    public var alertKey: AlertKey?
    public var action: AlertActionKind
    public var outcome: NotificationOutcome
    /// The receiver's HTTP status, when it answered.
    public var httpStatus: Int?
    /// authprobe's own words about the attempt (at most ``maxDetailLength`` characters).
    public var detail: String

    /// The longest detail and `last_error` stored.
    public static let maxDetailLength = 200

    public init(
        id: Int64,
        at: Date,
        receiver: String,
        alertKey: AlertKey?,
        action: AlertActionKind,
        outcome: NotificationOutcome,
        httpStatus: Int?,
        detail: String
    ) {
        self.id = id
        self.at = at
        self.receiver = receiver
        self.alertKey = alertKey
        self.action = action
        self.outcome = outcome
        self.httpStatus = httpStatus
        self.detail = detail
    }
}
