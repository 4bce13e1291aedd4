import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Evaluates the built-in alerts on every probe result and hands what they decide to the notifications.
///
/// `record` runs the pure ``AlertEvaluator`` under a lock (O(1) per result: the target's and its environment's
/// slots) and queues its actions in evaluation order; the service's loop stores them, with the outbox rows
/// they make, one batch at a time (``NotificationService/enqueue(_:now:)``), so a fire is never stored after
/// the resolve that follows it. While the database cannot be written the actions wait in that queue and the
/// write is retried. Every minute the loop also asks for reminders.
public final class AlertSink: ProbeResultSink, Service {
    private let evaluator: NIOLockedValueBox<AlertEvaluator>
    private let expiries: [TargetKey: [(kind: CredentialKind, expiresAt: Date)]]
    private let notifications: NotificationService
    private let repeatInterval: Duration
    private let logger: Logger
    private let queue: AsyncStream<[AlertAction]>
    private let continuation: AsyncStream<[AlertAction]>.Continuation
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - firing: the alerts stored as firing (``ResultStore/firingAlerts()``): they go on firing with their
    ///     start times, so a restart neither pages again nor forgets.
    public init(
        targets: [ProbeTarget],
        alerting: AlertingConfig,
        firing: [ActiveAlert],
        notifications: NotificationService,
        logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        var evaluator = AlertEvaluator(thresholds: alerting.thresholds, firing: firing)
        // Alerts of targets no longer configured (a reload removed them) resolve now instead of firing forever.
        let retired = evaluator.retain(targets: Set(targets.map(\.key)), now: now())
        self.evaluator = NIOLockedValueBox(evaluator)
        var expiries: [TargetKey: [(kind: CredentialKind, expiresAt: Date)]] = [:]
        for target in targets {
            if let client = target.client, !client.credentialExpiries.isEmpty {
                expiries[target.key] = client.credentialExpiries
            }
        }
        self.expiries = expiries
        self.notifications = notifications
        self.repeatInterval = alerting.repeatInterval
        self.logger = logger
        self.now = now
        (self.queue, self.continuation) = AsyncStream.makeStream(of: [AlertAction].self)
        if !retired.isEmpty { self.continuation.yield(retired) }
    }

    /// The alerts firing now.
    public var firing: [ActiveAlert] { self.evaluator.withLockedValue { $0.firing } }

    public func record(_ result: ProbeResult, state: TargetState) async {
        let expiries = self.expiries[result.target] ?? []
        let now = self.now()
        self.evaluator.withLockedValue { evaluator in
            let actions = evaluator.observe(result, state: state, credentialExpiries: expiries, now: now)
            // Queued under the lock: the queue's order is the evaluator's.
            if !actions.isEmpty { self.continuation.yield(actions) }
        }
    }

    /// The scheduler has recorded its last result: the loop stores what is queued and ends.
    public func finish() async {
        self.continuation.finish()
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.remindLoop() }
            for await actions in self.queue {
                self.log(actions)
                await self.store(actions)
            }
            group.cancelAll()
        }
        // Everything recorded is stored; a service ending before its own shutdown would stop the group.
        try? await gracefulShutdown()
    }

    /// Every minute: reminders of alerts firing longer than the repeat interval since their last notice.
    private func remindLoop() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                return
            }
            let now = self.now()
            self.evaluator.withLockedValue { evaluator in
                let actions = evaluator.remind(now: now, every: self.repeatInterval)
                if !actions.isEmpty { self.continuation.yield(actions) }
            }
        }
    }

    /// Stores `actions` and their deliveries; retried with backoff while the database cannot be written. Once
    /// the monitor is stopping, one more try, then they are given up (logged): a stop never hangs on a broken
    /// database.
    private func store(_ actions: [AlertAction]) async {
        var wait = Duration.seconds(1)
        var triedWhileStopping = false
        while true {
            do {
                try await self.notifications.enqueue(actions, now: self.now())
                return
            } catch {
                if triedWhileStopping {
                    self.logger.error(
                        "alert actions not stored: the database cannot be written and the monitor is stopping",
                        metadata: ["alert.actions": "\(actions.count)", "alert.error": "\(error)"]
                    )
                    return
                }
                self.logger.error(
                    "storing alert actions failed; retrying",
                    metadata: ["alert.actions": "\(actions.count)", "alert.error": "\(error)"]
                )
                let pause = wait
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
                triedWhileStopping = Task.isShuttingDownGracefully || Task.isCancelled
                wait = min(wait * 2, .seconds(30))
            }
        }
    }

    private func log(_ actions: [AlertAction]) {
        for action in actions {
            let alert = action.alert
            var metadata: Logger.Metadata = [
                "alert.name": "\(alert.key.name.rawValue)",
                "alert.environment": "\(alert.key.environment)",
                "alert.severity": "\(alert.severity.rawValue)",
                "alert.scope": "\(alert.scope.rawValue)",
            ]
            if !alert.key.client.isEmpty { metadata["alert.client"] = "\(alert.key.client)" }
            if let outcome = alert.outcome { metadata["alert.outcome"] = "\(outcome.rawValue)" }
            switch action {
            case .fire: self.logger.warning("alert firing", metadata: metadata)
            case .resolve: self.logger.notice("alert resolved", metadata: metadata)
            case .remind: self.logger.info("alert still firing", metadata: metadata)
            }
        }
    }

    /// The figures the metrics render: firing alerts by name and severity (every pair, 0 when none), the
    /// notification counters and the outbox.
    public func figures() -> AlertingFigures {
        var counts: [String: Int] = [:]
        for alert in self.firing { counts["\(alert.key.name.rawValue) \(alert.severity.rawValue)", default: 0] += 1 }
        let firing = AlertName.allCases.sorted().flatMap { name in
            [AlertSeverity.critical, .warning].map { severity in
                (name.rawValue, severity.rawValue, counts["\(name.rawValue) \(severity.rawValue)"] ?? 0)
            }
        }
        let snapshot = self.notifications.statistics.snapshot(now: self.now())
        return AlertingFigures(
            firing: firing,
            notifications: snapshot.counts.map { ($0.receiver, $0.outcome.rawValue, $0.value) },
            outboxDepth: snapshot.outboxDepth,
            outboxOldestAge: snapshot.oldestAge.map(Durations.seconds) ?? 0
        )
    }
}
