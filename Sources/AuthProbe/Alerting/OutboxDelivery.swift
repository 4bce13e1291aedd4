import Foundation

/// What an ``AlertAction`` asks of the receivers, as stored in the outbox and the notification history.
public enum AlertActionKind: String, Sendable, Codable, CaseIterable {
    case fire, remind, resolve
}

extension AlertAction {
    /// The action without its alert.
    public var kind: AlertActionKind {
        switch self {
        case .fire: return .fire
        case .remind: return .remind
        case .resolve: return .resolve
        }
    }
}

/// One delivery to enqueue: an action's body, already rendered for one receiver.
///
/// The body holds the exact bytes to send; it is rendered from an ``ActiveAlert`` only, which carries no secret.
/// A webhook's signature is not part of it: it is computed from these bytes when they are sent, so the
/// receiver's secret never reaches the database.
public struct OutboxDelivery: Sendable, Equatable {
    /// The receiver's configured name (``AlertmanagerReceiver/name`` or ``WebhookReceiver/name``).
    public var receiver: String
    public var action: AlertActionKind
    public var alertKey: AlertKey
    public var body: [UInt8]

    public init(receiver: String, action: AlertActionKind, alertKey: AlertKey, body: [UInt8]) {
        self.receiver = receiver
        self.action = action
        self.alertKey = alertKey
        self.body = body
    }
}
