import Foundation
import NIOConcurrencyHelpers

/// Counts of notification outcomes per receiver and the outbox's depth, for the metrics
/// (`authprobe_notifications_total{receiver,outcome}` and the outbox gauges), read at scrape time.
public final class NotificationStatistics: Sendable {
    /// One counter: a receiver's notifications that ended with `outcome`.
    public struct Count: Sendable, Hashable {
        public var receiver: String
        public var outcome: NotificationOutcome
        public var value: Int

        public init(receiver: String, outcome: NotificationOutcome, value: Int) {
            self.receiver = receiver
            self.outcome = outcome
            self.value = value
        }
    }

    /// The counters, sorted by receiver then outcome, and the outbox as last read.
    public struct Snapshot: Sendable, Equatable {
        public var counts: [Count]
        /// Deliveries waiting, over all receivers.
        public var outboxDepth: Int
        /// How long the oldest waiting delivery has waited; nil when none waits.
        public var oldestAge: Duration?

        /// The counter of `receiver` and `outcome` (0 when never counted).
        public func count(_ receiver: String, _ outcome: NotificationOutcome) -> Int {
            self.counts.first { $0.receiver == receiver && $0.outcome == outcome }?.value ?? 0
        }
    }

    private struct State {
        var counts: [String: [NotificationOutcome: Int]] = [:]
        var depth = 0
        var oldest: Date?
    }

    private let state: NIOLockedValueBox<State>

    /// Every outcome of every receiver in `receivers` starts at 0, so each series exists from the first scrape.
    public init(receivers: [String] = []) {
        var state = State()
        for receiver in receivers {
            state.counts[receiver] = Dictionary(uniqueKeysWithValues: NotificationOutcome.allCases.map { ($0, 0) })
        }
        self.state = NIOLockedValueBox(state)
    }

    /// Adds `count` notifications of `receiver` that ended with `outcome`.
    public func record(_ outcome: NotificationOutcome, receiver: String, count: Int = 1) {
        guard count > 0 else { return }
        self.state.withLockedValue { state in
            if state.counts[receiver] == nil {
                state.counts[receiver] = Dictionary(uniqueKeysWithValues: NotificationOutcome.allCases.map { ($0, 0) })
            }
            state.counts[receiver, default: [:]][outcome, default: 0] += count
        }
    }

    /// The outbox as just read from the store.
    public func setOutbox(depth: Int, oldest: Date?) {
        self.state.withLockedValue { state in
            state.depth = depth
            state.oldest = oldest
        }
    }

    public func snapshot(now: Date = Date()) -> Snapshot {
        self.state.withLockedValue { state in
            let counts = state.counts.flatMap { receiver, outcomes in
                outcomes.map { Count(receiver: receiver, outcome: $0.key, value: $0.value) }
            }.sorted { ($0.receiver, $0.outcome) < ($1.receiver, $1.outcome) }
            return Snapshot(
                counts: counts,
                outboxDepth: state.depth,
                oldestAge: state.oldest.map { .milliseconds(Int64(max(0, now.timeIntervalSince($0)) * 1000)) }
            )
        }
    }
}
