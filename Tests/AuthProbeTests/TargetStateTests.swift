import AuthProbe
import Foundation
import Testing

/// The reducer: sequences of results in, the target's state out. No I/O, no clock.
@Suite("Target state reducer")
struct TargetStateTests {
    static let key = TargetKey(environment: "prod", client: "svc")

    static func step(_ step: Step, _ outcome: Outcome = .success, ms: Int64 = 10) -> StepResult {
        StepResult(
            step: step,
            outcome: outcome,
            httpStatus: outcome == .success ? 200 : 401,
            timings: PhaseTimings(processing: .milliseconds(ms), total: .milliseconds(ms)),
            tokenLifetime: step == .token && outcome == .success ? 3600 : nil,
            jwksKeys: step == .jwks && outcome == .success ? 2 : nil
        )
    }

    static func run(at seconds: Double, _ steps: StepResult...) -> ProbeResult {
        ProbeResult(target: key, startedAt: Date(timeIntervalSince1970: seconds), steps: steps)
    }

    static func healthy(at seconds: Double) -> ProbeResult {
        run(at: seconds, step(.discovery), step(.jwks), step(.token))
    }

    static func reduce(_ results: [ProbeResult]) -> TargetState {
        results.reduce(TargetState(key: key)) { $0.applying($1) }
    }

    @Test("a new target has no steps and is not up")
    func initial() {
        let state = TargetState(key: Self.key)
        #expect(state.steps.isEmpty)
        #expect(!state.up)
        #expect(state.lastRun == nil)
    }

    @Test("failures count up, a success resets them and becomes the last success")
    func failuresAndRecovery() throws {
        let rejected = Self.run(at: 160, Self.step(.discovery), Self.step(.jwks), Self.step(.token, .invalidClient))
        var state = Self.reduce([
            Self.healthy(at: 100), rejected,
            Self.run(at: 220, Self.step(.discovery), Self.step(.jwks), Self.step(.token, .invalidClient)),
        ])
        var token = try #require(state.steps[.token])
        #expect(token.outcome == .invalidClient)
        #expect(token.httpStatus == 401)
        #expect(token.consecutiveFailures == 2)
        #expect(token.lastSuccess == Date(timeIntervalSince1970: 100))
        #expect(token.lastAttempt == Date(timeIntervalSince1970: 220))
        #expect(token.current)
        #expect(!state.up)
        #expect(state.tokenLifetime == 3600, "the last issued token's lifetime is kept")
        state.apply(Self.healthy(at: 280))
        token = try #require(state.steps[.token])
        #expect(token.consecutiveFailures == 0)
        #expect(token.lastSuccess == Date(timeIntervalSince1970: 280))
        #expect(state.up)
    }

    @Test("a run that failed early leaves the later steps' history but marks them not current")
    func notAttempted() throws {
        let state = Self.reduce([
            Self.healthy(at: 100),
            Self.run(at: 160, Self.step(.discovery, .connectRefused)),
        ])
        #expect(state.steps[.discovery]?.current == true)
        #expect(state.steps[.discovery]?.consecutiveFailures == 1)
        for step in [Step.jwks, .token] {
            let entry = try #require(state.steps[step])
            #expect(!entry.current, "\(step)")
            #expect(entry.outcome == .success, "\(step) keeps its last outcome as history")
            #expect(entry.consecutiveFailures == 0, "\(step) was not attempted, so it did not fail")
            #expect(entry.lastAttempt == Date(timeIntervalSince1970: 100))
        }
        #expect(state.tokenVerified == nil)
        #expect(!state.up)
        // The next full run makes them current again.
        let recovered = state.applying(Self.healthy(at: 220))
        #expect(recovered.steps.values.allSatisfy { $0.current })
        #expect(recovered.up)
    }

    @Test("a token not due (token_interval) stays current, and a failed one keeps up at 0")
    func tokenNotDue() {
        let skipped = Self.run(at: 160, Self.step(.discovery), Self.step(.jwks))
        let healthy = Self.reduce([Self.healthy(at: 100), skipped])
        #expect(healthy.steps[.token]?.current == true)
        #expect(healthy.up)
        let rejected = Self.run(
            at: 100,
            Self.step(.discovery),
            Self.step(.jwks),
            Self.step(.token, .credentialRejected)
        )
        let broken = Self.reduce([rejected, skipped])
        #expect(broken.steps[.token]?.current == true)
        #expect(!broken.up, "a skipped token does not hide a broken credential")
    }

    @Test("a changed key set is a rotation with the time of the run that saw it; the first set is not")
    func rotation() {
        func jwks(_ kids: String, at seconds: Double, keys: Int = 1) -> ProbeResult {
            var step = Self.step(.jwks)
            step.jwksKeys = keys
            step.jwksFingerprint = kids
            return Self.run(at: seconds, Self.step(.discovery), step)
        }
        var state = Self.reduce([jwks("k1", at: 100), jwks("k1", at: 160)])
        #expect(state.jwks?.lastRotation == nil)
        #expect(state.jwks?.keys == 1)
        state.apply(jwks("k1,k2", at: 220, keys: 2))
        state.apply(jwks("k1,k2", at: 280, keys: 2))
        #expect(state.jwks?.lastRotation == Date(timeIntervalSince1970: 220))
        #expect(state.jwks?.keys == 2)
        // A failed JWKS fetch changes nothing about the key set.
        state.apply(Self.run(at: 340, Self.step(.discovery), Self.step(.jwks, .jwksInvalid)))
        #expect(state.jwks?.keys == 2)
        #expect(state.jwks?.lastRotation == Date(timeIntervalSince1970: 220))
    }

    @Test("TLS expiry, clock skew, verification and conformance follow the latest attempt that said them")
    func details() {
        var token = Self.step(.token)
        token.tlsCertificateExpiry = Date(timeIntervalSince1970: 2_000_000_000)
        token.clockSkew = 1.5
        token.tokenVerified = true
        token.conformance.checked = [.tokenTypeBearer, .tokenCacheControlNoStore]
        token.conformance.violated = [.tokenCacheControlNoStore]
        var state = Self.reduce([Self.run(at: 100, Self.step(.discovery), Self.step(.jwks), token)])
        #expect(state.tlsExpiry[.token] == Date(timeIntervalSince1970: 2_000_000_000))
        #expect(state.clockSkew == 1.5)
        #expect(state.tokenVerified == true)
        #expect(state.conformance[.token]?.violated == [.tokenCacheControlNoStore])
        // A failed token request clears the verification but not the certificate's known expiry.
        state.apply(Self.run(at: 160, Self.step(.discovery), Self.step(.jwks), Self.step(.token, .http5xx)))
        #expect(state.tokenVerified == nil)
        #expect(state.tlsExpiry[.token] == Date(timeIntervalSince1970: 2_000_000_000))
        #expect(state.conformance[.token]?.checked.isEmpty == true)
    }

    @Test("the state round-trips through its stored form")
    func codable() throws {
        var token = Self.step(.token)
        token.tokenVerified = false
        token.timings = PhaseTimings(
            dns: .zero,
            connect: .microseconds(250),
            tls: .milliseconds(3),
            processing: .milliseconds(40),
            transfer: .microseconds(125),
            total: .microseconds(43_375)
        )
        let state = Self.reduce([
            Self.healthy(at: 100),
            Self.run(at: 160.25, Self.step(.discovery), Self.step(.jwks), token),
            Self.run(at: 220, Self.step(.discovery, .timeout)),
        ])
        let decoded = try JSONDecoder().decode(TargetState.self, from: JSONEncoder().encode(state))
        #expect(decoded == state)
    }

    @Test("keeping only the configured steps drops a removed API check")
    func keeping() {
        var api = Self.step(.api, .apiError)
        api.httpStatus = 500
        let state = Self.reduce([Self.run(at: 100, Self.step(.discovery), Self.step(.jwks), Self.step(.token), api)])
        #expect(!state.up)
        let kept = state.keeping(steps: [.discovery, .jwks, .token])
        #expect(kept.steps[.api] == nil)
        #expect(!kept.up, "the last run still failed")
        #expect(kept.applying(Self.healthy(at: 160)).up)
    }
}
