import AuthProbe

extension MonitorMetrics {
    /// Metrics for `targets` with `results` recorded in order, each with the state it leads its target to, as
    /// the scheduler would record them.
    public static func recording(_ results: [ProbeResult], targets: [ProbeTarget]) -> MonitorMetrics {
        let metrics = MonitorMetrics(targets: targets)
        var states: [TargetKey: TargetState] = [:]
        for result in results {
            let state = (states[result.target] ?? TargetState(key: result.target)).applying(result)
            states[result.target] = state
            metrics.record(result, state: state)
        }
        return metrics
    }

    /// The exposition text.
    public var exposition: String { String(decoding: self.render(), as: UTF8.self) }
}
