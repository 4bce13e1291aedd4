import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Delivers the outbox to Alertmanagers and webhooks, and re-sends firing alerts to Alertmanager.
///
/// One loop per receiver takes that receiver's oldest outbox row, waits until it is due (or ``wake()``),
/// POSTs it with the receiver's timeout, and on a 2xx removes it. Any other answer, or none, leaves the row at
/// the head with a later due time (``OutboxBackoff``): a receiver's deliveries arrive in the order they were
/// enqueued, and a failing receiver holds up only itself. A body the receiver refuses for good (400, 413, 415,
/// 422) is dropped, not retried, so it cannot block that receiver forever.
///
/// While an Alertmanager's outbox is empty, every `resendInterval` it is sent every firing alert (from
/// `firing`) directly, not through the outbox, with `endsAt` = now + 4 × `resendInterval`: Alertmanager resolves
/// an alert that is not re-sent in time. Re-sends are counted in the statistics but not kept in the history.
///
/// On graceful shutdown each loop ends after its current request; waiting rows stay for the next start.
/// Logs name receivers, never their URLs (a webhook URL often holds a token), and never contain bodies.
public final class NotificationService: Service, Sendable {
    /// One configured receiver, as the loops use it.
    struct Receiver: Sendable {
        enum Kind: Sendable {
            case alertmanager
            case webhook(Secret)
        }

        var name: String
        /// Where bodies are POSTed.
        var url: String
        var timeout: Duration
        var kind: Kind
    }

    public let statistics: NotificationStatistics
    let store: ResultStore
    let transport: any HTTPTransport
    let alerting: AlertingConfig
    let context: AlertPayloadContext
    let firing: @Sendable () async -> [ActiveAlert]
    let backoff: OutboxBackoff
    let clock: any Clock<Duration>
    let now: @Sendable () -> Date
    let logger: Logger
    let receivers: [Receiver]
    private let wakeups: [String: Wakeup]
    private let stopping = NIOLockedValueBox(false)

    /// - Parameters:
    ///   - alerting: the receivers, their timeouts and the Alertmanager resend interval.
    ///   - context: the `location` label, runbook links and `generatorURL` of the bodies.
    ///   - firing: the alerts firing now, for Alertmanager re-sends.
    ///   - statistics: where outcomes are counted (a new one, with every receiver at 0, when nil).
    ///   - backoff: waits between failed attempts of a row.
    public init(
        store: ResultStore,
        transport: any HTTPTransport,
        alerting: AlertingConfig,
        context: AlertPayloadContext = AlertPayloadContext(),
        firing: @escaping @Sendable () async -> [ActiveAlert],
        statistics: NotificationStatistics? = nil,
        backoff: OutboxBackoff = OutboxBackoff(),
        clock: any Clock<Duration> = ContinuousClock(),
        now: @escaping @Sendable () -> Date = { Date() },
        logger: Logger = Logger(label: "authprobe.notify")
    ) {
        let receivers =
            alerting.alertmanagers.map {
                Receiver(name: $0.name, url: Self.alertsURL($0.url), timeout: $0.timeout, kind: .alertmanager)
            }
            + alerting.webhooks.map {
                Receiver(name: $0.name, url: $0.url, timeout: $0.timeout, kind: .webhook($0.secret))
            }
        precondition(Set(receivers.map(\.name)).count == receivers.count, "receiver names must be unique")
        self.store = store
        self.transport = transport
        self.alerting = alerting
        self.context = context
        self.firing = firing
        self.statistics = statistics ?? NotificationStatistics(receivers: receivers.map(\.name))
        self.backoff = backoff
        self.clock = clock
        self.now = now
        self.logger = logger
        self.receivers = receivers
        self.wakeups = Dictionary(uniqueKeysWithValues: receivers.map { ($0.name, Wakeup()) })
    }

    /// `<base>/api/v2/alerts`, whether or not the configured base ends with a slash.
    static func alertsURL(_ base: String) -> String {
        var base = Substring(base)
        while base.hasSuffix("/") { base = base.dropLast() }
        return "\(base)/api/v2/alerts"
    }

    /// The deliveries `actions` make for this service's receivers (see
    /// ``OutboxDelivery/deliveries(for:alerting:context:now:)``).
    public func deliveries(for actions: [AlertAction], now: Date) -> [OutboxDelivery] {
        OutboxDelivery.deliveries(for: actions, alerting: self.alerting, context: self.context, now: now)
    }

    /// Records `actions` and enqueues their deliveries in one transaction, counts rows dropped over the outbox
    /// capacity, and wakes the loops.
    public func enqueue(_ actions: [AlertAction], now: Date) async throws {
        guard !actions.isEmpty else { return }
        let dropped = try await self.store.apply(actions, deliveries: self.deliveries(for: actions, now: now), now: now)
        self.recordDropped(dropped)
        await self.refreshOutboxStatistics()
        self.wake()
    }

    /// New rows were enqueued (by ``enqueue(_:now:)`` or directly with ``ResultStore/apply(_:deliveries:now:capacity:)``):
    /// the loops look at their outbox now rather than at their next due time.
    public func wake() {
        for wakeup in self.wakeups.values { wakeup.signal() }
    }

    public func run() async throws {
        await self.dropUnconfigured()
        await self.refreshOutboxStatistics()
        guard !self.receivers.isEmpty else {
            // A service that returns early ends its group: with nothing to deliver, wait for the shutdown.
            try? await gracefulShutdown()
            return
        }
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for receiver in self.receivers {
                    group.addTask { await self.deliveryLoop(receiver) }
                }
            }
        } onGracefulShutdown: {
            self.stop()
        }
    }

    /// Ends every loop after its current request.
    func stop() {
        self.stopping.withLockedValue { $0 = true }
        self.wake()
    }

    var isStopping: Bool {
        Task.isCancelled || self.stopping.withLockedValue { $0 }
    }

    /// Waits up to `limit` (indefinitely when nil) or until woken or stopped.
    func pause(_ receiver: Receiver, upTo limit: Duration?) async {
        guard !self.isStopping, let wakeup = self.wakeups[receiver.name] else { return }
        await wakeup.wait(upTo: limit, clock: self.clock)
    }

    /// Rows left by a receiver that is no longer configured would wait forever: they are dropped and counted.
    private func dropUnconfigured() async {
        do {
            let dropped = try await self.store.dropOutbox(keeping: Set(self.receivers.map(\.name)), at: self.now())
            self.recordDropped(dropped)
            for (receiver, count) in dropped {
                self.logger.warning(
                    "dropped deliveries of a receiver no longer configured",
                    metadata: ["notification.receiver": "\(receiver)", "notification.dropped": "\(count)"]
                )
            }
        } catch {
            self.logger.error("reading the alert outbox failed", metadata: ["notification.error": "\(error)"])
        }
    }

    func recordDropped(_ dropped: [String: Int]) {
        for (receiver, count) in dropped {
            self.statistics.record(.dropped, receiver: receiver, count: count)
        }
    }

    func refreshOutboxStatistics() async {
        guard let summary = try? await self.store.outboxSummary() else { return }
        self.statistics.setOutbox(depth: summary.depth, oldest: summary.oldest)
    }
}

extension NotificationService: CustomStringConvertible {
    public var description: String { "NotificationService" }
}
