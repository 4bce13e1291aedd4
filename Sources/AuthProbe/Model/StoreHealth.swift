import Foundation

/// What the store's writer reports about itself, for authprobe's own metrics and readiness.
public struct StoreHealth: Sendable, Equatable {
    /// Raw results waiting to be written.
    public var pendingResults = 0
    /// True from a failed write until the next successful one.
    public var failing = false
    /// When the last write succeeded.
    public var lastWrite: Date?
    /// Failed writes since start.
    public var writeFailures = 0
    /// Raw results dropped because too many waited.
    public var droppedResults = 0

    public init() {}
}
