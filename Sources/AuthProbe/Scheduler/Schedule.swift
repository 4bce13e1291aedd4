/// When one target runs next: a pure value, advanced by the scheduler after each run and tested without
/// sleeping.
///
/// Slots are `interval` apart from a stable per-target offset (so restarts keep the spread and a busy
/// monitor's lateness does not accumulate). A run that overruns its slot skips the missed slots instead of
/// bursting to catch up. `Retry-After` postpones the next run, capped so that one odd header cannot silence a
/// target for long. Tokens are requested on their own cadence (`token_interval`): only a successful token
/// waits a whole token interval; a failed or skipped one is retried on the next run, so a broken credential
/// is confirmed and a fixed one seen promptly.
public struct Schedule<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public let interval: Duration
    public let tokenInterval: Duration
    /// The longest a `Retry-After` may postpone a run beyond its interval.
    public let maximumRetryAfter: Duration
    /// The instant the next run is due.
    public private(set) var next: Instant
    /// The first instant a token is due again.
    public private(set) var tokenDue: Instant

    /// - Parameter offset: where in the interval this target's slots lie (``offset(of:within:)``).
    public init(
        start: Instant,
        offset: Duration,
        interval: Duration,
        tokenInterval: Duration,
        maximumRetryAfter: Duration = .seconds(3600)
    ) {
        self.interval = interval
        self.tokenInterval = tokenInterval
        self.maximumRetryAfter = maximumRetryAfter
        self.next = start.advanced(by: offset)
        self.tokenDue = start
    }

    /// Whether the run due at ``next`` requests a token. A little slack, so that a token interval equal to
    /// the interval never skips a run through jitter.
    public var requestsToken: Bool { self.next.advanced(by: .milliseconds(100)) >= self.tokenDue }

    /// How late a run starting at `now` is for its slot.
    public func lag(at now: Instant) -> Duration {
        max(.zero, self.next.duration(to: now))
    }

    /// Advances past the run due at ``next``, which ended at `now`.
    /// - Parameters:
    ///   - tokenSucceeded: whether the run requested a token and it was issued.
    ///   - retryAfter: the longest `Retry-After` of the run's responses.
    /// - Returns: the number of slots skipped because the run overran them.
    @discardableResult
    public mutating func advance(endedAt now: Instant, tokenSucceeded: Bool, retryAfter: Duration?) -> Int {
        if tokenSucceeded { self.tokenDue = self.next.advanced(by: self.tokenInterval) }
        var skipped = 0
        self.next = self.next.advanced(by: self.interval)
        if self.next < now {
            // Skip the missed slots, staying on the target's grid.
            let behind = self.next.duration(to: now)
            skipped = Int(behind / self.interval) + 1
            self.next = self.next.advanced(by: self.interval * skipped)
        }
        if let retryAfter {
            let wait = min(retryAfter, max(self.interval, self.maximumRetryAfter))
            if now.advanced(by: wait) > self.next { self.next = now.advanced(by: wait) }
        }
        return skipped
    }

    /// A stable fraction of the interval derived from the target's labels (FNV-1a), so restarts keep the spread.
    public static func offset(of key: TargetKey, within interval: Duration) -> Duration {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(key.environment)\u{0}\(key.client)".utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let fraction = Double(hash % 10_000) / 10_000
        return .milliseconds(Int64(Durations.seconds(interval) * 1000 * fraction))
    }
}
