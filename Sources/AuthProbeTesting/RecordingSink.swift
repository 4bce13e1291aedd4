import AuthProbe
import NIOConcurrencyHelpers

/// A result sink that keeps every probe result, for tests of the scheduler.
public final class RecordingSink: ProbeResultSink {
    private let box = NIOLockedValueBox<[ProbeResult]>([])

    public init() {}

    public func record(_ result: ProbeResult) async {
        self.box.withLockedValue { $0.append(result) }
    }

    /// Results so far, in the order they were recorded.
    public var results: [ProbeResult] { self.box.withLockedValue { $0 } }

    /// Results of one target.
    public func results(for key: TargetKey) -> [ProbeResult] {
        self.results.filter { $0.target == key }
    }
}
