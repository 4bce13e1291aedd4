import NIOConcurrencyHelpers

/// Wakes one waiting loop: ``signal()`` ends the current or the next ``wait(upTo:clock:)``.
///
/// A signal sent while nobody waits is kept (once), so a row enqueued while its receiver's loop was busy
/// sending is never missed.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = NIOLockedValueBox(State())

    func signal() {
        let waiter = self.state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns when signalled, after `limit` (never when nil), or when the task is cancelled.
    func wait(upTo limit: Duration?, clock: any Clock<Duration>) async {
        if let limit, limit <= .zero { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.signalled() }
            if let limit {
                group.addTask { try? await clock.sleep(for: limit) }
            }
            await group.next()
            group.cancelAll()
        }
    }

    private func signalled() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Under the lock with the handler below: a cancellation either is seen here, or finds the waiter.
                let resumeNow = self.state.withLockedValue { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = self.state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }
}
