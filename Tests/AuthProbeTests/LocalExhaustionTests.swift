import AuthProbeTesting
import Foundation
import NIOCore
import Testing

@testable import AuthProbe

/// authprobe out of file descriptors is its own fault: never a provider's outage, never the API's.
@Suite("Local resource exhaustion")
struct LocalExhaustionTests {
    @Test(
        "a connection that cannot get a descriptor is local_resource_exhausted, scope authprobe",
        arguments: [EMFILE, ENFILE, ENOBUFS, ENOMEM]
    )
    func exhausted(_ code: Int32) {
        let failure = NIOHTTPTransport.classifyConnect(
            IOError(errnoCode: code, reason: "socket"),
            address: "1.2.3.4:443"
        )
        #expect(failure.outcome == .localResourceExhausted)
        #expect(failure.outcome.scope == .authprobe)
        #expect(failure.detail.contains("1.2.3.4:443"), "\(failure.detail)")
    }

    @Test("a refused or unreachable connection stays the provider's")
    func providerFaults() {
        let refused = NIOHTTPTransport.classifyConnect(
            IOError(errnoCode: ECONNREFUSED, reason: "connect"),
            address: "x"
        )
        #expect(refused.outcome == .connectRefused)
        let unreachable = NIOHTTPTransport.classifyConnect(
            IOError(errnoCode: EHOSTUNREACH, reason: "connect"),
            address: "x"
        )
        #expect(unreachable.outcome == .connectionError)
        #expect(unreachable.outcome.scope == .provider)
    }

    /// The real transport, except that requests to `exhausted` find no descriptor left.
    struct ExhaustedTransport: HTTPTransport {
        let real: NIOHTTPTransport
        let exhausted: String

        func send(_ request: TransportRequest, timeout: Duration) async -> HTTPExchange {
            guard request.url.hasPrefix(self.exhausted) else { return await self.real.send(request, timeout: timeout) }
            let failure = NIOHTTPTransport.classifyConnect(IOError(errnoCode: EMFILE, reason: "socket"), address: "x")
            return HTTPExchange(result: .failure(failure), timings: PhaseTimings())
        }
    }

    @Test("on the API step it stays authprobe's own, not api_error")
    func apiStep() async throws {
        let provider = try await FakeProvider.make()
        provider.set("/api/accounts", .json(200, "[]"))
        var environment = TestTargets.environment(issuer: provider.issuer)
        environment.apiCheck = APICheck(url: "\(provider.issuer)/api/accounts", expectStatus: 200)
        let target = ProbeTarget(environment: environment, client: environment.clients[0])
        let transport = ExhaustedTransport(real: try NIOHTTPTransport(), exhausted: "\(provider.issuer)/api/")
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            await Prober(transport: transport).probe(target)
        }
        let api = try #require(result.steps.last)
        #expect(api.step == .api)
        #expect(api.outcome == .localResourceExhausted, "\(api.detail)")
        #expect(api.outcome.scope == .authprobe)
    }

    @Test("it neither grows nor ends the step's streak of failures, which the provider-outage alert counts")
    func streak() {
        let key = TargetKey(environment: "prod", client: "svc")
        func run(_ second: Int, _ outcome: Outcome) -> ProbeResult {
            ProbeResult(
                target: key,
                startedAt: Date(timeIntervalSince1970: Double(second)),
                steps: [StepResult(step: .discovery, outcome: outcome)]
            )
        }
        var state = TargetState(key: key)
        state.apply(run(1, .connectRefused))
        state.apply(run(2, .localResourceExhausted))
        state.apply(run(3, .localResourceExhausted))
        #expect(state.steps[.discovery]?.consecutiveFailures == 1)
        #expect(state.steps[.discovery]?.outcome == .localResourceExhausted)
        #expect(state.lastRunSucceeded == false)
        state.apply(run(4, .connectRefused))
        #expect(state.steps[.discovery]?.consecutiveFailures == 2)
    }
}
