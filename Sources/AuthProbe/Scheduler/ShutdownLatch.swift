import NIOConcurrencyHelpers

/// Cuts every target's wait short when a graceful shutdown begins, through one shutdown handler for the whole
/// scheduler. Waiting with a handler of its own per target would cost each of thousands of idle targets a task
/// group and two child tasks for every wait.
final class ShutdownLatch: Sendable {
    private struct State {
        var triggered = false
        var nextID = 0
        var waiters: [Int: @Sendable () -> Void] = [:]
    }

    private let state = NIOLockedValueBox(State())

    /// True once the shutdown has begun.
    var isTriggered: Bool { self.state.withLockedValue { $0.triggered } }

    /// Registers `cancel`, called when the shutdown begins; nil (and `cancel` not kept) when it already has.
    func register(_ cancel: @escaping @Sendable () -> Void) -> Int? {
        self.state.withLockedValue { state in
            guard !state.triggered else { return nil }
            state.nextID &+= 1
            state.waiters[state.nextID] = cancel
            return state.nextID
        }
    }

    func unregister(_ id: Int) {
        _ = self.state.withLockedValue { $0.waiters.removeValue(forKey: id) }
    }

    /// Begins the shutdown: every registered wait is cancelled, and later ones end at once.
    func trigger() {
        let waiters = self.state.withLockedValue { state in
            state.triggered = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for cancel in waiters { cancel() }
    }
}
