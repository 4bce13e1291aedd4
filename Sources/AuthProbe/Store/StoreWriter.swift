import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// Writes results and target states to the store in batches, as a service of its own.
///
/// A result is written at most `window` after it is recorded, with the others of that window, in one
/// transaction: probe runs never wait for the disk. When a write fails (the database is read-only, locked,
/// the disk full), probing goes on: the results wait in memory and the write is retried with backoff (up to
/// 30 s). At most `capacity` raw results, and at most `byteCapacity` bytes of them (as ``footprint(_:)``
/// estimates), wait; past that the oldest raw results are dropped (counted and logged), one at a time at a
/// constant cost, but never a target's latest state, which is kept per target and written on recovery.
/// On graceful shutdown, and in `finish()`, what is pending is written.
public final class StoreWriter: ProbeResultSink, Service {
    private struct State {
        /// Oldest first; a ring, so dropping the oldest costs the same however many wait.
        var results = CircularBuffer<ProbeResult>()
        /// ``footprint(_:)`` of `results`.
        var bytes = 0
        var states: [TargetKey: TargetState] = [:]
        var health = StoreHealth()

        /// Drops the oldest results while more than `capacity` or `byteCapacity` wait; how many went.
        mutating func trim(capacity: Int, byteCapacity: Int) -> Int {
            var dropped = 0
            while self.results.count > capacity || (self.bytes > byteCapacity && self.results.count > 1) {
                self.bytes -= StoreWriter.footprint(self.results.removeFirst())
                dropped += 1
            }
            self.health.droppedResults += dropped
            self.health.pendingResults = self.results.count
            return dropped
        }
    }

    private let store: ResultStore
    private let path: String
    private let logger: Logger
    private let window: Duration
    private let capacity: Int
    private let byteCapacity: Int
    private let state = NIOLockedValueBox(State())
    /// One write at a time, so a target's states are written in order.
    private let serial = ConcurrencyLimiter(limit: 1)

    /// - Parameters:
    ///   - path: the database file, named in error messages.
    ///   - capacity: the most raw results kept waiting while the database cannot be written.
    ///   - byteCapacity: the most memory (as ``footprint(_:)`` estimates it) they may take.
    public init(
        store: ResultStore,
        path: String,
        logger: Logger,
        window: Duration = .seconds(1),
        capacity: Int = 100_000,
        byteCapacity: Int = 64 << 20
    ) {
        self.store = store
        self.path = path
        self.logger = logger
        self.window = window
        self.capacity = capacity
        self.byteCapacity = byteCapacity
    }

    /// About how much memory a waiting result holds: the fixed parts of the result and its steps, and the text
    /// of their details and notes (each at most ``StepResult/maxDetailBytes``).
    static func footprint(_ result: ProbeResult) -> Int {
        result.steps.reduce(256) { total, step in
            total + 320 + step.detail.utf8.count + step.notes.reduce(0) { $0 + 16 + $1.utf8.count }
        }
    }

    public var health: StoreHealth { self.state.withLockedValue { $0.health } }

    public func record(_ result: ProbeResult, state: TargetState) async {
        let dropped = self.state.withLockedValue { pending -> Bool in
            pending.results.append(result)
            pending.bytes += Self.footprint(result)
            pending.states[state.key] = state
            let before = pending.health.droppedResults
            guard pending.trim(capacity: self.capacity, byteCapacity: self.byteCapacity) > 0 else { return false }
            // Logged on the first drop and every 10,000 after.
            return before == 0 || before / 10_000 != pending.health.droppedResults / 10_000
        }
        if dropped {
            self.logger.error(
                "store unwritable for too long: dropping the oldest waiting results (target states are kept)",
                metadata: [
                    "store.path": "\(self.path)", "store.capacity": "\(self.capacity)",
                    "store.capacity_bytes": "\(self.byteCapacity)",
                ]
            )
        }
    }

    public func run() async throws {
        var wait = self.window
        while !Task.isCancelledOrShuttingDown {
            let pause = wait
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
            wait = await self.flush() ? self.window : min(wait * 2, .seconds(30))
        }
        // The scheduler stops first (services stop in reverse order) and has recorded its last results.
        await self.finish()
    }

    /// Writes what is pending now; one more try if it fails.
    public func finish() async {
        if await !self.flush() { _ = await self.flush() }
    }

    /// Writes everything pending; false when the write failed (the batch then waits for the next try).
    @discardableResult
    public func flush() async -> Bool {
        await self.serial.withPermit {
            let (results, bytes, states) = self.state.withLockedValue { pending in
                let batch = (Array(pending.results), pending.bytes, Array(pending.states.values))
                pending.results = CircularBuffer()
                pending.bytes = 0
                pending.states = [:]
                return batch
            }
            if results.isEmpty && states.isEmpty { return true }
            do {
                try await self.store.insert(results, states: states)
                let recovered = self.state.withLockedValue { pending -> Bool in
                    let recovered = pending.health.failing
                    pending.health.failing = false
                    pending.health.lastWrite = Date()
                    pending.health.pendingResults = pending.results.count
                    return recovered
                }
                if recovered {
                    self.logger.info(
                        "store writable again; waiting results written",
                        metadata: ["store.path": "\(self.path)", "store.results": "\(results.count)"]
                    )
                }
                return true
            } catch {
                let first = self.state.withLockedValue { pending -> Bool in
                    // Put the batch back in front; a newer state recorded meanwhile wins over the batch's.
                    var merged = CircularBuffer(results)
                    merged.append(contentsOf: pending.results)
                    pending.results = merged
                    pending.bytes += bytes
                    _ = pending.trim(capacity: self.capacity, byteCapacity: self.byteCapacity)
                    for state in states where pending.states[state.key] == nil { pending.states[state.key] = state }
                    pending.health.writeFailures += 1
                    defer { pending.health.failing = true }
                    return !pending.health.failing
                }
                // Logged when the trouble starts; the failure metric and /readyz say it lasts.
                if first {
                    self.logger.error(
                        "storing probe results failed; they wait in memory and the write is retried",
                        metadata: [
                            "store.path": "\(self.path)", "store.results": "\(results.count)",
                            "store.error": "\(error)",
                        ]
                    )
                }
                return false
            }
        }
    }
}

extension StoreWriter: CustomStringConvertible {
    public var description: String { "StoreWriter(\(self.path))" }
}
