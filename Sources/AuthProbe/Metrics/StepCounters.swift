/// Results of one step by outcome, and the latency of its successful requests: plain values updated in O(1)
/// per result and read at scrape time, instead of registry series looked up per result.
struct StepCounters: Sendable {
    /// Results by outcome; outcomes never seen are absent (success is rendered at 0 from the start).
    var outcomes: [Outcome: Int] = [:]
    var latency = LatencyHistogram()

    mutating func record(_ step: StepResult) {
        self.outcomes[step.outcome, default: 0] += 1
        // Only successful requests describe the endpoint's latency: a refused connection takes microseconds
        // and a timeout takes the deadline, and either would drag the percentiles the alerts use.
        if step.succeeded { self.latency.record(Durations.seconds(step.timings.total)) }
    }
}

/// A cumulative-on-render latency histogram with fixed buckets.
struct LatencyHistogram: Sendable {
    /// Upper bounds in seconds. 0.5, 1 and 2 s are boundaries so that latency rules at those thresholds are
    /// exact (a quantile between two buckets is interpolated, and a rule between them would guess).
    static let bounds: [Double] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10]

    /// Observations per bucket (not cumulative); the last slot is above every bound.
    var counts = [Int](repeating: 0, count: LatencyHistogram.bounds.count + 1)
    var sum = 0.0
    var count = 0

    mutating func record(_ seconds: Double) {
        guard seconds.isFinite, seconds >= 0 else { return }
        let index = Self.bounds.firstIndex { seconds <= $0 } ?? Self.bounds.count
        self.counts[index] += 1
        self.sum += seconds
        self.count += 1
    }
}
