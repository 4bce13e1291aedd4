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
    private let states: [TargetKey: TargetState]
    private let prober: Prober
    private let sinks: [any ProbeResultSink]
    private let limiter: ConcurrencyLimiter
    private let clock: C
    private let logger: Logger
    private let spreadFirstRuns: Bool
    private let executors: [any TaskExecutor]
    private let observer: any SchedulerObserver
    private let latch = ShutdownLatch()

    /// - Parameters:
    ///   - states: the targets' states restored from the store; each target's loop carries its own on from there.
    ///   - executors: where the targets' loops run (an event loop each, round-robin); their loops'
    ///     timers then time the waits between runs, so `clock` must keep real time. Empty: the default executor
    ///     and `clock`'s own sleep (tests with a manual clock).
    public init(
        targets: [ProbeTarget],
        states: [TargetKey: TargetState] = [:],
        prober: Prober,
        sinks: [any ProbeResultSink],
        concurrency: Int,
        clock: C,
        logger: Logger,
        spreadFirstRuns: Bool = true,
        executors: [any TaskExecutor] = [],
        observer: any SchedulerObserver = NoSchedulerObserver()
    ) {
        precondition(concurrency > 0, "concurrency must be positive")
        self.targets = targets
        self.states = states
        self.prober = prober
        self.sinks = sinks
        self.limiter = ConcurrencyLimiter(limit: concurrency)
        self.clock = clock
        self.logger = logger
        self.spreadFirstRuns = spreadFirstRuns
        self.executors = executors
        self.observer = observer
    }

    /// How long the oldest due run has been waiting for a permit (zero when none waits): the scheduler is
    /// stalled when this grows past a run's longest possible duration.
    public var longestPermitWait: Duration { self.limiter.longestWait }

    public func run() async throws {
        self.logger.info("scheduler started", metadata: ["scheduler.targets": "\(self.targets.count)"])
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for (index, target) in self.targets.enumerated() {
                    // Each target's loop runs on one executor (an event loop, when given), spread round-robin.
                    let executor = self.executors.isEmpty ? nil : self.executors[index % self.executors.count]
                    let run = TargetRun(
                        target: target,
                        state: self.states[target.key],
                        start: self.clock.now,
                        spread: self.spreadFirstRuns
                    )
                    group.addTask(executorPreference: executor) { await self.loop(run, on: executor) }
                }
            }
        } onGracefulShutdown: {
            self.latch.trigger()
        }
        // Every run has ended and been recorded: let the sinks finish (the store writes its last batch).
        for sink in self.sinks {
            await sink.finish()
        }
        self.logger.info("scheduler stopped")
    }

    /// One target's loop: wait for the slot, run, repeat. It lives as long as the monitor, so it keeps as
    /// little as it can: its frame holds a reference to the target's ``TargetRun``, and each run happens in a
    /// short-lived child task (a task keeps the memory its deepest call stack needed for as long as it
    /// lives), so thousands of idle targets cost a small frame each, not a probe's stack and state copies.
    private func loop(_ run: TargetRun, on executor: (any TaskExecutor)?) async {
        while true {
            do {
                // Only the wait is cut short by shutdown; a run that has started is finished and recorded.
                try await self.sleep(until: run.schedule.next, on: executor)
            } catch {
                return
            }
            if Task.isCancelledOrShuttingDown || self.latch.isTriggered { return }
            let ran = await self.limiter.withPermit { () async -> Bool in
                // A run that waited for a permit past the start of a shutdown is not started at all.
                if Task.isShuttingDownGracefully { return false }
                await withDiscardingTaskGroup { group in
                    group.addTask(executorPreference: executor) { await self.perform(run) }
                }
                return true
            }
            if !ran { return }
        }
    }

    /// One run of the target: probe, reduce the result into the state, hand both to the sinks, advance the
    /// schedule.
    private func perform(_ run: TargetRun) async {
        let requestToken = run.schedule.requestsToken
        self.observer.runStarted(lag: run.schedule.lag(at: self.clock.now))
        let result = await self.prober.probe(run.target, requestToken: requestToken)
        self.observer.runFinished()
        run.state.apply(result)
        for sink in self.sinks {
            await sink.record(result, state: run.state)
        }
        let skipped = run.schedule.advance(
            endedAt: self.clock.now,
            tokenSucceeded: requestToken && result.steps.contains { $0.step == .token && $0.succeeded },
            retryAfter: result.steps.compactMap(\.retryAfter).max()
        )
        if skipped > 0 { self.observer.slotsSkipped(skipped) }
    }

    /// A target with its state and schedule: one allocation per target, shared by its loop and that loop's
    /// runs. Only one of them touches it at a time (the loop awaits the run it starts), which is why it may
    /// cross between them.
    final class TargetRun: @unchecked Sendable {
        let target: ProbeTarget
        var state: TargetState
        var schedule: Schedule<C.Instant>

        init(target: ProbeTarget, state: TargetState?, start: C.Instant, spread: Bool) {
            let interval = target.environment.interval
            self.target = target
            self.state = state ?? TargetState(key: target.key)
            self.schedule = Schedule(
                start: start,
                offset: spread ? Schedule<C.Instant>.offset(of: target.key, within: interval) : .zero,
                interval: interval,
                // Tokens are requested on their own cadence (token_interval, never shorter than the interval).
                tokenInterval: target.environment.tokenInterval
            )
        }
    }

    /// Waits until `instant`, or until a graceful shutdown begins: on the event loop's own timer when the run
    /// lives on one, else on the clock.
    private func sleep(until instant: C.Instant, on executor: (any TaskExecutor)?) async throws {
        if let loop = executor as? EventLoopTaskExecutor {
            let delay = self.clock.now.duration(to: instant)
            if delay > .zero { try await loop.sleep(for: delay, until: self.latch) }
            try Task.checkCancellation()
        } else {
            // Tests' clocks: the library's per-wait handler is fine for a handful of targets.
            try await cancelWhenGracefulShutdown { try await self.clock.sleep(until: instant, tolerance: nil) }
        }
    }
}

/// What the scheduler reports about itself, for authprobe's own metrics.
public protocol SchedulerObserver: Sendable {
    /// A run started, `lag` after its slot.
    func runStarted(lag: Duration)
    /// A run ended (before its result is recorded).
    func runFinished()
    /// A run overran its interval and `count` slots were skipped.
    func slotsSkipped(_ count: Int)
}

/// Observes nothing (tests).
public struct NoSchedulerObserver: SchedulerObserver {
    public init() {}
    public func runStarted(lag: Duration) {}
    public func runFinished() {}
    public func slotsSkipped(_ count: Int) {}
}

/// A counting semaphore for async code: at most `limit` bodies run at once, others wait in FIFO order.
///
/// A lock, not an actor: taking a free permit does not suspend, so a run stays on its executor.
public final class ConcurrencyLimiter: Sendable {
    private struct State {
        var running = 0
        var waiters: [(continuation: CheckedContinuation<Void, Never>, since: ContinuousClock.Instant)] = []
    }

    private let limit: Int
    private let state = NIOLockedValueBox(State())

    public init(limit: Int) {
        self.limit = limit
    }

    /// How long the oldest waiter has waited; zero when none waits.
    public var longestWait: Duration {
        self.state.withLockedValue { state in state.waiters.first.map { $0.since.duration(to: .now) } ?? .zero }
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
                    state.waiters.append((continuation, .now))
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
            return state.waiters.removeFirst().continuation
        }
        next?.resume()
    }
}

extension Scheduler: CustomStringConvertible {
    /// Short: the service group describes its services, and a reflected description of thousands of targets
    /// would cost megabytes and seconds at every start.
    public var description: String { "Scheduler(\(self.targets.count) targets)" }
}
