import NIOCore

/// Runs a task's jobs on one NIO event loop, so that a probe run and the connections it makes share a
/// thread: a response completes its future and resumes the run on the same thread, without waking
/// another one. That hop is what dominates authprobe's CPU per request and adds to its timing noise.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = self.asUnownedTaskExecutor()
        self.eventLoop.execute { job.runSynchronously(on: executor) }
    }

    /// Sleeps on the event loop's own timer: the run wakes on its thread, where a clock's sleep would wake
    /// another thread first only to hand the run back. Throws `CancellationError` when the task is cancelled
    /// or `latch` is triggered.
    func sleep(for duration: Duration, until latch: ShutdownLatch) async throws {
        let scheduled = self.eventLoop.scheduleTask(in: TimeAmount(duration)) {}
        guard let id = latch.register({ scheduled.cancel() }) else {
            scheduled.cancel()
            throw CancellationError()
        }
        defer { latch.unregister(id) }
        try await withTaskCancellationHandler {
            do {
                try await scheduled.futureResult.get()
            } catch {
                throw CancellationError()
            }
        } onCancel: {
            scheduled.cancel()
        }
    }

    /// One executor for each event loop of `group`.
    static func all(of group: any EventLoopGroup) -> [EventLoopTaskExecutor] {
        group.makeIterator().map(EventLoopTaskExecutor.init)
    }
}
