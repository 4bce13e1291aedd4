import AuthProbe
import AuthProbeTesting
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// The schedule keeps every target independent: a hung provider never delays another, a run in flight
/// is recorded before shutdown completes, and Retry-After is honoured.
@Suite("Scheduler")
struct SchedulerTests {
    static func target(_ provider: FakeProvider, name: String, interval: Duration, timeout: Duration) -> ProbeTarget {
        var environment = TestTargets.environment(issuer: provider.issuer, timeout: timeout, interval: interval)
        environment.name = name
        return ProbeTarget(environment: environment, client: environment.clients[0])
    }

    static func scheduler(_ targets: [ProbeTarget], sink: RecordingSink, spread: Bool = false) throws -> Scheduler<
        ContinuousClock
    > {
        Scheduler(
            targets: targets,
            prober: try TestTargets.prober(),
            sinks: [sink],
            concurrency: 4,
            clock: ContinuousClock(),
            logger: Logger(label: "scheduler-test"),
            spreadFirstRuns: spread
        )
    }

    @Test("a hung provider does not delay another environment")
    func hungProviderIsolated() async throws {
        let hung = try await FakeProvider.make()
        hung.set("/token", .hang(limit: .seconds(4)))
        let healthy = try await FakeProvider.make()
        let sink = RecordingSink()
        let slow = Self.target(hung, name: "hung", interval: .seconds(3), timeout: .seconds(3))
        let fast = Self.target(healthy, name: "healthy", interval: .milliseconds(200), timeout: .seconds(1))
        let scheduler = try Self.scheduler([slow, fast], sink: sink)
        try await withRunningServices(
            [hung.application(), healthy.application()],
            waitingFor: [hung.port, healthy.port]
        ) {
            try await withRunningServices([scheduler]) {
                // The healthy target keeps its 200 ms schedule ...
                #expect(await eventually(within: .seconds(10)) { sink.results(for: fast.key).count >= 3 })
            }
        }
        // ... while the hung one was still inside its first run (3 s timeout): in the order results were
        // recorded, three healthy runs come before the hung target's only one. Were the healthy runs held
        // up by the hung one, they would all come after it.
        let order = sink.results.map(\.target)
        let firstHung = try #require(order.firstIndex(of: slow.key))
        #expect(order[..<firstHung].filter { $0 == fast.key }.count >= 3, "\(order)")
        #expect(sink.results(for: slow.key).map { $0.steps.last?.outcome } == [.timeout])
    }

    @Test("graceful shutdown records the run in flight, then stops")
    func inFlightRunIsRecorded() async throws {
        let provider = try await FakeProvider.make()
        provider.set("/token", .delayed(.milliseconds(800), then: .json(200, FakeProvider.validToken)))
        let sink = RecordingSink()
        let target = Self.target(provider, name: "slow", interval: .seconds(30), timeout: .seconds(5))
        let scheduler = try Self.scheduler([target], sink: sink)
        try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await withRunningServices([scheduler]) {
                // Shut down while the token request is still waiting for its (800 ms late) answer.
                let asked = await eventually(within: .seconds(5)) {
                    provider.requests.contains { $0.path == "/token" }
                }
                #expect(asked)
                #expect(sink.results.isEmpty)
            }
        }
        #expect(sink.results.count == 1)
        #expect(sink.results.first?.succeeded == true)
    }

    @Test("Retry-After postpones the next run of that target")
    func retryAfter() async throws {
        let provider = try await FakeProvider.make()
        provider.set("/token", .raw(status: 429, headers: [("Retry-After", "30")], body: []))
        let sink = RecordingSink()
        let target = Self.target(provider, name: "limited", interval: .milliseconds(200), timeout: .seconds(1))
        let scheduler = try Self.scheduler([target], sink: sink)
        try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await withRunningServices([scheduler]) {
                // After the first (rate-limited) run, a second second of 200 ms slots must stay empty.
                #expect(await eventually(within: .seconds(10)) { !sink.results.isEmpty })
                try await Task.sleep(for: .milliseconds(1000))
            }
        }
        #expect(sink.results.count == 1)
        #expect(sink.results.first?.steps.last?.outcome == .rateLimited)
    }

    @Test("tokens follow token_interval while discovery and JWKS follow the interval")
    func tokenInterval() async throws {
        let provider = try await FakeProvider.make()
        let sink = RecordingSink()
        var target = Self.target(provider, name: "cadence", interval: .milliseconds(200), timeout: .seconds(1))
        target.environment.tokenInterval = .seconds(30)
        let scheduler = try Self.scheduler([target], sink: sink)
        try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await withRunningServices([scheduler]) {
                _ = await eventually(within: .seconds(5)) { sink.results.count >= 4 }
            }
        }
        let runs = sink.results
        #expect(runs.count >= 4)
        #expect(runs.first?.steps.map(\.step) == [.discovery, .jwks, .token], "the first run requests a token")
        #expect(runs.dropFirst().allSatisfy { $0.steps.map(\.step) == [.discovery, .jwks] }, "later runs do not")
        #expect(provider.requests.filter { $0.path == "/token" }.count == 1)
    }
}
