import AuthProbe
import AuthProbeTesting
import Foundation
import JWTKit
import Testing

/// Issued JWTs are verified against the JWKS of the same run: a tampered key set, a wrong key or
/// inconsistent claims are named, opaque tokens pass untouched.
@Suite("Issued-token inspection")
struct TokenInspectionTests {
    struct Claims: JWTPayload {
        var iss: IssuerClaim
        var iat: IssuedAtClaim
        var exp: ExpirationClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static func jwk(_ key: ES256PrivateKey, kid: String) throws -> String {
        let parameters = try #require(key.publicKey.parameters)
        return
            #"{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"\#(kid)","x":"\#(parameters.x)","y":"\#(parameters.y)"}"#
    }

    static func token(_ key: ES256PrivateKey, kid: String, issuer: String, lifetime: TimeInterval) async throws
        -> String
    {
        let now = Date()
        let claims = Claims(iss: .init(value: issuer), iat: .init(value: now), exp: .init(value: now + lifetime))
        let identifier = JWKIdentifier(string: kid)
        return try await JWTKeyCollection().add(ecdsa: key, kid: identifier).sign(claims, kid: identifier)
    }

    enum Case: String, CaseIterable {
        case valid, tamperedKid, otherKey, wrongIssuer, inconsistentLifetime
    }

    @Test("JWT access tokens are verified", arguments: Case.allCases)
    func inspection(_ testCase: Case) async throws {
        let provider = try await FakeProvider.make()
        let key = ES256PrivateKey()
        let other = ES256PrivateKey()
        let jwks: String
        switch testCase {
        case .tamperedKid: jwks = #"{"keys":[\#(try Self.jwk(key, kid: "rotated-away"))]}"#
        case .otherKey: jwks = #"{"keys":[\#(try Self.jwk(other, kid: "k1"))]}"#
        default: jwks = #"{"keys":[\#(try Self.jwk(key, kid: "k1"))]}"#
        }
        let issuer = testCase == .wrongIssuer ? "https://someone-else.example" : provider.issuer
        let token = try await Self.token(
            key,
            kid: "k1",
            issuer: issuer,
            lifetime: testCase == .inconsistentLifetime ? 600 : 300
        )
        provider.set("/jwks", .json(200, jwks))
        provider.set("/token", .json(200, #"{"access_token":"\#(token)","token_type":"Bearer","expires_in":300}"#))
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(TestTargets.target(provider))
        }
        let step = try #require(result.steps.last)
        #expect(step.step == .token)
        let expected: [Case: Outcome] = [
            .valid: .success, .tamperedKid: .jwtUnknownKid, .otherKey: .jwtInvalidSignature,
            .wrongIssuer: .jwtClaimsInvalid, .inconsistentLifetime: .jwtClaimsInvalid,
        ]
        #expect(step.outcome == expected[testCase], "\(testCase): \(step.detail)")
        #expect(step.tokenLifetime == 300)
        #expect(!step.detail.contains(token), "the token never reaches a detail")
        if testCase == .valid {
            #expect(step.detail.hasSuffix("JWT verified against the JWKS"))
            #expect(abs(try #require(step.clockSkew)) < 5)
        }
    }

    @Test("an opaque token is not inspected")
    func opaque() async throws {
        let provider = try await FakeProvider.make()
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(TestTargets.target(provider))
        }
        #expect(result.succeeded)
        #expect(result.steps.last?.clockSkew == nil)
        #expect(result.steps.last?.detail.contains("JWT") == false)
    }

    @Test("a changed key set is a rotation, with its time")
    func rotation() {
        let metrics = MonitorMetrics()
        func run(_ fingerprint: String, at seconds: Double) -> ProbeResult {
            var jwks = StepResult(step: .jwks, outcome: .success, jwksKeys: 1)
            jwks.jwksFingerprint = fingerprint
            return ProbeResult(
                target: TargetKey(environment: "prod", client: ""),
                startedAt: Date(timeIntervalSince1970: seconds),
                steps: [StepResult(step: .discovery, outcome: .success), jwks]
            )
        }
        metrics.record(run("k1", at: 100))
        metrics.record(run("k1", at: 160))
        var body = String(decoding: metrics.render(), as: UTF8.self)
        #expect(!body.contains("authprobe_jwks_last_rotation_timestamp_seconds{"))
        metrics.record(run("k1,k2", at: 220))
        metrics.record(run("k1,k2", at: 280))
        body = String(decoding: metrics.render(), as: UTF8.self)
        #expect(body.contains(#"authprobe_jwks_last_rotation_timestamp_seconds{environment="prod"} 220.0"#))
    }
}
