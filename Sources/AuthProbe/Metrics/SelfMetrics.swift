import Foundation
import NIOConcurrencyHelpers
import Prometheus

/// authprobe's own health as metrics: the scheduler (runs in flight, lag, skipped slots) through the
/// registry, and the process and the store's writer read at scrape time.
public final class SelfMetrics: SchedulerObserver {
    private let runsInFlight: Gauge
    private let runs: Counter
    private let skipped: Counter
    private let lag: DurationHistogram
    private let storeHealth = NIOLockedValueBox<@Sendable () -> StoreHealth?>({ nil })
    private let alerting = NIOLockedValueBox<@Sendable () -> AlertingFigures?>({ nil })

    /// Schedule lag buckets: a healthy monitor starts runs within milliseconds of their slot.
    static let lagBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
        .seconds(10),
    ]

    public init(registry: PrometheusCollectorRegistry) {
        func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "authprobe", metricName: name, unitName: "", helpText: help)
        }
        self.runsInFlight = registry.makeGauge(
            descriptor: descriptor("scheduler_runs_in_flight", "Probe runs in flight.")
        )
        self.runs = registry.makeCounter(descriptor: descriptor("scheduler_runs_total", "Probe runs started."))
        self.skipped = registry.makeCounter(
            descriptor: descriptor(
                "scheduler_runs_skipped_total",
                "Scheduled runs skipped because the target's previous run overran its interval."
            )
        )
        self.lag = registry.makeDurationHistogram(
            descriptor: descriptor("scheduler_lag_seconds", "How late probe runs start after their scheduled time."),
            buckets: Self.lagBuckets
        )
    }

    /// Where the store's health is read at scrape time.
    public func observeStore(_ health: @escaping @Sendable () -> StoreHealth?) {
        self.storeHealth.withLockedValue { $0 = health }
    }

    /// Where alerting's figures are read at scrape time.
    public func observeAlerting(_ figures: @escaping @Sendable () -> AlertingFigures?) {
        self.alerting.withLockedValue { $0 = figures }
    }

    public func runStarted(lag: Duration) {
        self.runs.increment()
        self.runsInFlight.increment()
        self.lag.record(lag)
    }

    public func runFinished() {
        self.runsInFlight.decrement()
    }

    public func slotsSkipped(_ count: Int) {
        self.skipped.increment(by: Int64(count))
    }

    /// The process and store families, read now.
    func render(into out: inout ExpositionWriter) {
        let process = ProcessStatistics.read()
        let none = LabelSet.empty
        let families: [(name: String, type: String, help: String, value: Double?)] = [
            (
                "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
                process.cpuSeconds
            ),
            (
                "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                process.residentBytes.map(Double.init)
            ),
            (
                "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                process.virtualBytes.map(Double.init)
            ),
            (
                "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
                process.startTime
            ),
            (
                "process_open_fds", "gauge", "Number of open file descriptors.",
                process.openFileDescriptors.map(Double.init)
            ),
            (
                "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                process.maxFileDescriptors.map(Double.init)
            ),
        ]
        for family in families {
            guard let value = family.value else { continue }
            out.family(family.name, family.type, family.help)
            out.sample(family.name, none, value)
        }
        if let alerting = self.alerting.withLockedValue({ $0 })() { Self.render(alerting, into: &out) }
        guard let store = self.storeHealth.withLockedValue({ $0 })() else { return }
        out.family("authprobe_store_pending_results", "gauge", "Probe results waiting to be written to the database.")
        out.sample("authprobe_store_pending_results", none, count: store.pendingResults)
        out.family(
            "authprobe_store_write_failures_total",
            "counter",
            "Failed database writes (the results wait in memory and the write is retried)."
        )
        out.sample("authprobe_store_write_failures_total", none, count: store.writeFailures)
        out.family(
            "authprobe_store_dropped_results_total",
            "counter",
            "Raw results dropped because too many waited for an unwritable database (target states are kept)."
        )
        out.sample("authprobe_store_dropped_results_total", none, count: store.droppedResults)
        out.family("authprobe_store_healthy", "gauge", "1 if the latest database write succeeded, else 0.")
        out.sample("authprobe_store_healthy", none, store.failing ? 0 : 1)
        if let lastWrite = store.lastWrite {
            out.family(
                "authprobe_store_last_write_timestamp_seconds",
                "gauge",
                "Unix time of the latest successful database write."
            )
            out.sample("authprobe_store_last_write_timestamp_seconds", none, lastWrite.timeIntervalSince1970)
        }
    }

    /// `authprobe_alerts_firing`, `authprobe_notifications_total` and the outbox gauges.
    private static func render(_ alerting: AlertingFigures, into out: inout ExpositionWriter) {
        out.family("authprobe_alerts_firing", "gauge", "Built-in alerts firing now, by name and severity.")
        for entry in alerting.firing {
            out.sample(
                "authprobe_alerts_firing",
                .empty,
                ["alertname": entry.alertname, "severity": entry.severity],
                count: entry.count
            )
        }
        out.family(
            "authprobe_notifications_total",
            "counter",
            "Alert deliveries by receiver and outcome (success; failure, retried with backoff; dropped)."
        )
        for entry in alerting.notifications {
            out.sample(
                "authprobe_notifications_total",
                .empty,
                ["receiver": entry.receiver, "outcome": entry.outcome],
                count: entry.count
            )
        }
        out.family("authprobe_alert_outbox_pending", "gauge", "Alert deliveries waiting in the outbox.")
        out.sample("authprobe_alert_outbox_pending", .empty, count: alerting.outboxDepth)
        out.family(
            "authprobe_alert_outbox_oldest_age_seconds",
            "gauge",
            "How long the oldest waiting alert delivery has waited (0 when none waits)."
        )
        out.sample("authprobe_alert_outbox_oldest_age_seconds", .empty, alerting.outboxOldestAge)
    }
}
