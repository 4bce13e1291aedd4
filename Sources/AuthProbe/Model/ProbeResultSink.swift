/// Something that consumes every probe result and the target's state after it: the store, the metrics, the log.
public protocol ProbeResultSink: Sendable {
    func record(_ result: ProbeResult, state: TargetState) async
    /// Called once after the last `record`, before the service stops: finish what was handed over.
    func finish() async
}

extension ProbeResultSink {
    public func finish() async {}
}
