import Foundation
import Logging
import ServiceLifecycle

/// Prunes raw step results older than the configured retention, once at start and then hourly.
public struct RetentionService<C: Clock>: Service where C.Duration == Duration {
    private let store: ResultStore
    private let retention: Duration
    private let period: Duration
    private let clock: C
    private let logger: Logger

    public init(store: ResultStore, retention: Duration, period: Duration = .seconds(3600), clock: C, logger: Logger) {
        self.store = store
        self.retention = retention
        self.period = period
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            let cutoff = Date().addingTimeInterval(-Durations.seconds(self.retention))
            do {
                let removed = try await self.store.prune(before: cutoff)
                if removed > 0 {
                    self.logger.debug("pruned step results", metadata: ["store.removed": "\(removed)"])
                }
            } catch {
                self.logger.error("pruning step results failed", metadata: ["store.error": "\(error)"])
            }
            do {
                try await cancelWhenGracefulShutdown {
                    try await self.clock.sleep(for: self.period)
                }
            } catch {
                return
            }
        }
    }
}

extension Task where Success == Never, Failure == Never {
    /// True once the task is cancelled or a graceful shutdown has begun.
    static var isCancelledOrShuttingDown: Bool {
        Task.isCancelled || Task.isShuttingDownGracefully
    }
}

extension RetentionService: CustomStringConvertible {
    public var description: String { "RetentionService" }
}
