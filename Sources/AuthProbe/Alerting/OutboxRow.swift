import Foundation

/// One row of the outbox as read back: a delivery waiting for its receiver to accept it.
public struct OutboxRow: Sendable, Equatable {
    public var id: Int64
    public var receiver: String
    public var action: AlertActionKind
    /// nil when the stored key does not name a known alert (a row written by a newer version); it is still sent.
    public var alertKey: AlertKey?
    public var body: [UInt8]
    public var createdAt: Date
    /// Failed attempts so far.
    public var attempts: Int
    /// Not sent before this time (backoff after a failure).
    public var nextAttemptAt: Date
    /// Why the last attempt failed, in authprobe's words (never a receiver's response body).
    public var lastError: String?

    public init(
        id: Int64,
        receiver: String,
        action: AlertActionKind,
        alertKey: AlertKey?,
        body: [UInt8],
        createdAt: Date,
        attempts: Int,
        nextAttemptAt: Date,
        lastError: String?
    ) {
        self.id = id
        self.receiver = receiver
        self.action = action
        self.alertKey = alertKey
        self.body = body
        self.createdAt = createdAt
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
    }
}
