import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Runs every environment×client on its interval and fans each result out to the sinks.
///
/// Each target has its own loop, so a hung or slow provider only ever delays its own next run
/// (every request is bounded by the environment's timeout). First runs are offset by a stable
/// per-target fraction of the interval to spread load; at most `concurrency` runs are in flight.
/// On graceful shutdown no new run starts, and runs in flight finish and are recorded before `run()` returns.
public struct Scheduler<C: Clock>: Service where C.Duration == Duration {
    private let targets: [ProbeTarget]
    private let prober: Prober
    private let sinks: [any ProbeResultSink]
    private let limiter: ConcurrencyLimiter
    private let clock: C
    private let logger: Logger
    private let spreadFirstRuns: Bool
    private let executors: [any TaskExecutor]

    /// - Parameter executors: where the targets' loops run (an event loop each, round-robin); their loops'
    ///   timers then time the waits between runs, so `clock` must keep real time. Empty: the default executor
    ///   and `clock`'s own sleep (tests with a manual clock).
    public init(
        targets: [ProbeTarget],
        prober: Prober,
        sinks: [any ProbeResultSink],
        concurrency: Int,
        clock: C,
        logger: Logger,
        spreadFirstRuns: Bool = true,
        executors: [any TaskExecutor] = []
    ) {
        precondition(concurrency > 0, "concurrency must be positive")
        self.targets = targets
        self.prober = prober
        self.sinks = sinks
        self.limiter = ConcurrencyLimiter(limit: concurrency)
        self.clock = clock
        self.logger = logger
        self.spreadFirstRuns = spreadFirstRuns
        self.executors = executors
    }

    public func run() async throws {
        self.logger.info("scheduler started", metadata: ["scheduler.targets": "\(self.targets.count)"])
        await withDiscardingTaskGroup { group in
            for (index, target) in self.targets.enumerated() {
                // Each target's loop runs on one executor (an event loop, when given), spread round-robin.
                let executor = self.executors.isEmpty ? nil : self.executors[index % self.executors.count]
                group.addTask(executorPreference: executor) { await self.loop(target, on: executor) }
            }
        }
        // Every run has ended and been recorded: let the sinks finish (the store writes its last batch).
        for sink in self.sinks {
            await sink.finish()
        }
        self.logger.info("scheduler stopped")
    }

    private func loop(_ target: ProbeTarget, on executor: (any TaskExecutor)?) async {
        let interval = target.environment.interval
        // Tokens are requested on their own cadence (token_interval, never shorter than the interval).
        var tokenDue = self.clock.now
        var next = self.clock.now.advanced(
            by: self.spreadFirstRuns ? Self.offset(of: target.key, within: interval) : .zero
        )
        while true {
            do {
                // Only the wait is cut short by shutdown; a run that has started is finished and recorded.
                let wakeUp = next
                try await cancelWhenGracefulShutdown { try await self.sleep(until: wakeUp, on: executor) }
            } catch {
                return
            }
            if Task.isCancelledOrShuttingDown { return }
            // A little slack, so that a token_interval equal to the interval never skips a run by jitter.
            let requestToken = next.advanced(by: .milliseconds(100)) >= tokenDue
            guard
                let result = await self.limiter.withPermit({ () async -> ProbeResult? in
                    // A run that waited for a permit past the start of a shutdown is not started at all.
                    Task.isShuttingDownGracefully ? nil : await self.prober.probe(target, requestToken: requestToken)
                })
            else { return }
            for sink in self.sinks {
                await sink.record(result)
            }
            // Only a successful token waits a whole token_interval; a failed or skipped one (discovery down)
            // is retried on the next run, so a broken credential is confirmed and a fixed one seen promptly.
            if requestToken, result.steps.first(where: { $0.step == .token })?.succeeded == true {
                tokenDue = next.advanced(by: target.environment.tokenInterval)
            }
            next = next.advanced(by: interval)
            let now = self.clock.now
            if next < now {
                // The run overran its interval: skip the missed slots instead of bursting to catch up.
                next = now.advanced(by: interval)
            }
            if let retryAfter = result.steps.compactMap(\.retryAfter).max() {
                // Honour Retry-After: probing a rate-limited provider sooner only prolongs the limit. Capped, so
                // that one odd header cannot silence a target for days.
                let wait = min(retryAfter, max(interval, Self.maximumRetryAfter))
                if now.advanced(by: wait) > next { next = now.advanced(by: wait) }
            }
        }
    }

    /// Waits until `instant`: on the event loop's own timer when the run lives on one, else on the clock.
    private func sleep(until instant: C.Instant, on executor: (any TaskExecutor)?) async throws {
        if let loop = executor as? EventLoopTaskExecutor {
            let delay = self.clock.now.duration(to: instant)
            if delay > .zero { try await loop.sleep(for: delay) }
            try Task.checkCancellation()
        } else {
            try await self.clock.sleep(until: instant, tolerance: nil)
        }
    }

    /// The longest a `Retry-After` may postpone a target beyond its interval.
    public static var maximumRetryAfter: Duration { .seconds(3600) }

    /// A stable fraction of the interval derived from the target's labels (FNV-1a), so restarts keep the spread.
    public static func offset(of key: TargetKey, within interval: Duration) -> Duration {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(key.environment)\u{0}\(key.client)".utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let fraction = Double(hash % 10_000) / 10_000
        return .milliseconds(Int64(Durations.seconds(interval) * 1000 * fraction))
    }
}

/// A counting semaphore for async code: at most `limit` bodies run at once, others wait in FIFO order.
///
/// A lock, not an actor: taking a free permit does not suspend, so a run stays on its executor.
public final class ConcurrencyLimiter: Sendable {
    private struct State {
        var running = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let limit: Int
    private let state = NIOLockedValueBox(State())

    public init(limit: Int) {
        self.limit = limit
    }

    public func withPermit<T: Sendable>(_ body: () async -> T) async -> T {
        await self.acquire()
        let value = await body()
        self.release()
        return value
    }

    private func acquire() async {
        let acquired = self.state.withLockedValue { state in
            guard state.running < self.limit else { return false }
            state.running += 1
            return true
        }
        if acquired { return }
        await withCheckedContinuation { continuation in
            let handedOver = self.state.withLockedValue { state in
                // A permit may have been released between the two locks.
                guard state.running < self.limit else {
                    state.waiters.append(continuation)
                    return false
                }
                state.running += 1
                return true
            }
            if handedOver { continuation.resume() }
        }
    }

    private func release() {
        let next = self.state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.running -= 1
                return nil
            }
            // Hand the permit straight to the next waiter.
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
