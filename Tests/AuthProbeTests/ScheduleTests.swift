import AuthProbe
import Testing

/// The schedule as a value: next run times from the last run, the interval, the offset and Retry-After,
/// computed on instants that are plain numbers — no clock, no sleeping.
@Suite("Schedule")
struct ScheduleTests {
    /// A manual instant: seconds as a Duration from zero.
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: self.offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - self.offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    static func at(_ seconds: Double) -> Instant { Instant(offset: .milliseconds(Int64(seconds * 1000))) }

    static func schedule(offset: Double = 5, interval: Int64 = 60, tokenInterval: Int64 = 60) -> Schedule<Instant> {
        Schedule(
            start: Self.at(0),
            offset: .milliseconds(Int64(offset * 1000)),
            interval: .seconds(interval),
            tokenInterval: .seconds(tokenInterval)
        )
    }

    @Test("runs are an interval apart from the target's offset, whatever each run took")
    func grid() {
        var schedule = Self.schedule()
        #expect(schedule.next == Self.at(5))
        schedule.advance(endedAt: Self.at(5.3), tokenSucceeded: true, retryAfter: nil)
        #expect(schedule.next == Self.at(65))
        schedule.advance(endedAt: Self.at(66), tokenSucceeded: true, retryAfter: nil)
        #expect(schedule.next == Self.at(125), "a late run does not push the grid")
    }

    @Test("lag is how late a run starts for its slot")
    func lag() {
        let schedule = Self.schedule()
        #expect(schedule.lag(at: Self.at(5.25)) == .milliseconds(250))
        #expect(schedule.lag(at: Self.at(4)) == .zero)
    }

    @Test("a run that overruns skips the missed slots and stays on the grid")
    func overrun() {
        var schedule = Self.schedule()
        let skipped = schedule.advance(endedAt: Self.at(190), tokenSucceeded: true, retryAfter: nil)
        #expect(skipped == 3, "slots at 65, 125 and 185 were missed")
        #expect(schedule.next == Self.at(245))
    }

    @Test("Retry-After postpones the next run, capped at an hour or the interval")
    func retryAfter() {
        var schedule = Self.schedule()
        schedule.advance(endedAt: Self.at(6), tokenSucceeded: false, retryAfter: .seconds(300))
        #expect(schedule.next == Self.at(306))
        schedule.advance(endedAt: Self.at(307), tokenSucceeded: false, retryAfter: .seconds(10))
        #expect(schedule.next == Self.at(366), "a short Retry-After does not advance the next slot")
        var limited = Self.schedule()
        limited.advance(endedAt: Self.at(6), tokenSucceeded: false, retryAfter: .seconds(86_400))
        #expect(limited.next == Self.at(3606))
    }

    @Test("tokens follow token_interval after a success, and are retried on the next run after a failure")
    func tokenInterval() {
        var schedule = Self.schedule(tokenInterval: 300)
        #expect(schedule.requestsToken, "the first run requests a token")
        schedule.advance(endedAt: Self.at(6), tokenSucceeded: true, retryAfter: nil)
        var requested: [Bool] = []
        for slot in 1...6 {
            requested.append(schedule.requestsToken)
            schedule.advance(
                endedAt: Self.at(Double(5 + 60 * slot) + 1),
                tokenSucceeded: schedule.requestsToken,
                retryAfter: nil
            )
        }
        #expect(requested == [false, false, false, false, true, false])
        var failing = Self.schedule(tokenInterval: 300)
        failing.advance(endedAt: Self.at(6), tokenSucceeded: false, retryAfter: nil)
        #expect(failing.requestsToken, "a failed token is retried on the next run")
    }

    @Test("offsets are stable per target and spread within the interval")
    func offsets() {
        let interval = Duration.seconds(60)
        let offsets = (0..<50).map {
            Schedule<Instant>.offset(of: TargetKey(environment: "env\($0)", client: "c"), within: interval)
        }
        #expect(offsets.allSatisfy { $0 >= .zero && $0 < interval })
        #expect(Set(offsets).count > 40)
        #expect(
            Schedule<Instant>.offset(of: TargetKey(environment: "env0", client: "c"), within: interval) == offsets[0]
        )
    }
}
