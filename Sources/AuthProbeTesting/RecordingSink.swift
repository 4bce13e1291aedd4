import AuthProbe
import NIOConcurrencyHelpers

/// A result sink that keeps every probe result and the state after it, for tests of the scheduler.
public final class RecordingSink: ProbeResultSink {
    private let box = NIOLockedValueBox<[(result: ProbeResult, state: TargetState)]>([])

    public init() {}

    public func record(_ result: ProbeResult, state: TargetState) async {
        self.box.withLockedValue { $0.append((result, state)) }
    }

    /// Results so far, in the order they were recorded.
    public var results: [ProbeResult] { self.box.withLockedValue { $0.map(\.result) } }

    /// The states after each result, in the order they were recorded.
    public var states: [TargetState] { self.box.withLockedValue { $0.map(\.state) } }

    /// Results of one target.
    public func results(for key: TargetKey) -> [ProbeResult] {
        self.results.filter { $0.target == key }
    }
}
