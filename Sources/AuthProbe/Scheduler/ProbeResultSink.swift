import Logging
import NIOConcurrencyHelpers

/// Something that consumes every probe result: the store, the metrics, the log.
public protocol ProbeResultSink: Sendable {
    func record(_ result: ProbeResult) async
    /// Called once after the last `record`, before the service stops: finish what was handed over.
    func finish() async
}

extension ProbeResultSink {
    public func finish() async {}
}

/// Writes results to the store in batches: a result is written at most `window` after it is recorded,
/// together with the others of that window, in one transaction. Probe runs never wait for the disk, and a
/// busy monitor pays for one transaction and one thread wake-up per window instead of per run.
/// `finish()` writes what is pending (graceful shutdown loses nothing; a crash loses at most `window`).
/// A failed write is authprobe's own fault and logged as an error, and never stops probing.
public final class StoreSink: ProbeResultSink {
    private struct State {
        var pending: [ProbeResult] = []
        var flush: Task<Void, Never>?
        /// The batching wait of the current flush; cancelled to write at once.
        var wait: Task<Void, Never>?
    }

    private let store: ResultStore
    private let logger: Logger
    private let window: Duration
    private let state = NIOLockedValueBox(State())

    public init(store: ResultStore, logger: Logger, window: Duration = .seconds(1)) {
        self.store = store
        self.logger = logger
        self.window = window
    }

    public func record(_ result: ProbeResult) async {
        self.state.withLockedValue { state in
            state.pending.append(result)
            if state.flush == nil {
                // The wait exists as soon as the flush does, so finish() can always cut it short.
                let window = self.window
                let wait = Task { _ = try? await Task.sleep(for: window) }
                state.wait = wait
                state.flush = Task {
                    await wait.value
                    await self.flushLoop()
                }
            }
        }
    }

    public func finish() async {
        while let flush = self.state.withLockedValue({ state in
            // Cut the batching wait short (not the flush: a cancelled task's database write would fail).
            state.wait?.cancel()
            return state.flush
        }) {
            await flush.value
        }
    }

    private func flushLoop() async {
        while true {
            let batch = self.state.withLockedValue { state -> [ProbeResult] in
                let batch = state.pending
                state.pending = []
                if batch.isEmpty {
                    state.flush = nil
                    state.wait = nil
                }
                return batch
            }
            if batch.isEmpty { return }
            do {
                try await self.store.insert(batch)
            } catch {
                self.logger.error(
                    "storing probe results failed",
                    metadata: ["store.results": "\(batch.count)", "store.error": "\(error)"]
                )
            }
        }
    }
}

/// Updates the Prometheus series.
public struct MetricsSink: ProbeResultSink {
    let metrics: MonitorMetrics

    public init(metrics: MonitorMetrics) {
        self.metrics = metrics
    }

    public func record(_ result: ProbeResult) async {
        self.metrics.record(result)
    }
}

/// One structured log line per run: a constant message, the data in dotted metadata.
/// Provider failures are expected events (info); success is debug.
public struct LogSink: ProbeResultSink {
    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func record(_ result: ProbeResult) async {
        // Success is logged at debug: build nothing for a line that will not be written.
        if result.failure == nil, self.logger.logLevel > .debug { return }
        var metadata: Logger.Metadata = [
            "probe.environment": "\(result.target.environment)",
            "probe.client": "\(result.target.client)",
            "probe.duration_ms":
                "\(Self.milliseconds(result.steps.map { Durations.seconds($0.timings.total) }.reduce(0, +)))",
        ]
        guard let failure = result.failure else {
            if let lifetime = result.steps.last?.tokenLifetime {
                metadata["probe.token_lifetime_s"] = "\(lifetime)"
            }
            self.logger.debug("probe run succeeded", metadata: metadata)
            return
        }
        metadata["probe.step"] = "\(failure.step.rawValue)"
        metadata["probe.outcome"] = "\(failure.outcome.label)"
        metadata["probe.scope"] = "\(failure.outcome.scope.rawValue)"
        metadata["probe.detail"] = "\(failure.detail)"
        if let status = failure.httpStatus { metadata["probe.http_status"] = "\(status)" }
        self.logger.info("probe run failed", metadata: metadata)
    }

    private static func milliseconds(_ seconds: Double) -> String {
        String(format: "%.1f", seconds * 1000)
    }
}
