/// How long a failed delivery waits before its next attempt: `initial` × 2^(failures − 1), capped at `maximum`,
/// each wait drawn from the last `jitter` fraction below that (so instances that failed together do not retry
/// together). With the defaults: about 1 s, 2 s, 4 s … then 5 min between attempts.
public struct OutboxBackoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration
    /// 0…1: the share of each wait that is random.
    public var jitter: Double

    public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(300), jitter: Double = 0.2) {
        precondition(initial > .zero && maximum >= initial, "backoff needs 0 < initial <= maximum")
        precondition((0...1).contains(jitter), "jitter is a fraction")
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
    }

    /// The wait after `failures` consecutive failures (1 for the first); `random` in 0…1.
    public func delay(afterFailures failures: Int, random: Double = .random(in: 0...1)) -> Duration {
        // 2^30 × anything is beyond any sensible maximum: no overflow, no loop.
        let doublings = min(max(failures, 1) - 1, 30)
        let nominal = min(self.initial * (1 << doublings), self.maximum)
        return nominal * (1 - self.jitter * min(max(random, 0), 1))
    }
}
