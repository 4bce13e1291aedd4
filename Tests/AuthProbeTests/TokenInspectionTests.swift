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

    /// A key jwt-kit cannot load: its `alg` (RSA-OAEP-256, an encryption algorithm) is not one it verifies
    /// with, and its modulus is far too short.
    static let encryptionKey =
        #"{"kty":"RSA","use":"enc","alg":"RSA-OAEP-256","kid":"enc-1","e":"AQAB","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbg"}"#

    static func probeToken(signedBy key: ES256PrivateKey, jwks: String, verify: Bool = true) async throws -> StepResult
    {
        let provider = try await FakeProvider.make()
        let token = try await Self.token(key, kid: "k1", issuer: provider.issuer, lifetime: 300)
        provider.set("/jwks", .json(200, jwks))
        provider.set("/token", .json(200, #"{"access_token":"\#(token)","token_type":"Bearer","expires_in":300}"#))
        var configured = TestTargets.target(provider)
        configured.environment.verifyAccessToken = verify
        let target = configured
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(target)
        }
        return try #require(result.steps.last)
    }

    @Test("a key jwt-kit cannot load does not stop the token's own key from verifying it")
    func unusableKeyBesideTheSigningKey() async throws {
        let key = ES256PrivateKey()
        let step = try await Self.probeToken(
            signedBy: key,
            jwks: #"{"keys":[\#(Self.encryptionKey),\#(try Self.jwk(key, kid: "k1"))]}"#
        )
        #expect(step.outcome == .success)
        #expect(step.detail.hasSuffix("JWT verified against the JWKS"), "\(step.detail)")
        #expect(step.tokenVerified == true)
    }

    @Test("a token whose key cannot be used is reported as not verified, not as a failure")
    func unusableSigningKey() async throws {
        let key = ES256PrivateKey()
        // The published k1 is a key of a type that cannot verify signatures here.
        let unusable = Self.encryptionKey.replacingOccurrences(of: #""kid":"enc-1""#, with: #""kid":"k1""#)
        let step = try await Self.probeToken(signedBy: key, jwks: #"{"keys":[\#(unusable)]}"#)
        #expect(step.outcome == .success)
        #expect(step.detail.hasSuffix("JWT not verified"), "\(step.detail)")
        #expect(step.tokenVerified == false)
        #expect(step.notes.contains { $0.hasPrefix("no JWKS key usable to verify the token: kid k1 (kty RSA)") })

        let exposition = MonitorMetrics.recording(
            [ProbeResult(target: TargetKey(environment: "fake", client: "svc"), startedAt: Date(), steps: [step])],
            targets: [TestTargets.target()]
        ).exposition
        #expect(exposition.contains(#"authprobe_token_signature_verified{environment="fake",client="svc"} 0.0"#))
    }

    @Test("verify_access_token: false leaves a token signed by an unknown key alone")
    func inspectionOff() async throws {
        let step = try await Self.probeToken(
            signedBy: ES256PrivateKey(),
            jwks: #"{"keys":[\#(try Self.jwk(ES256PrivateKey(), kid: "k1"))]}"#,
            verify: false
        )
        #expect(step.outcome == .success, "\(step.detail)")
        #expect(step.tokenVerified == nil)
        #expect(step.notes.contains("access token not inspected (verify_access_token: false)"))
    }

    @Test("an opaque token is not inspected")
    func opaque() async throws {
        let provider = try await FakeProvider.make()
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(TestTargets.target(provider))
        }
        #expect(result.succeeded)
        #expect(result.steps.last?.detail.contains("JWT") == false)
        #expect(result.steps.last?.tokenVerified == nil)
        // Without a JWT, the provider's clock comes from its Date header (whole seconds).
        let skew = try #require(result.steps.last?.clockSkew)
        #expect(abs(skew) < 2, "\(skew)")
    }

    @Test("a changed key set is a rotation, with its time")
    func rotation() {
        var environment = TestTargets.environment(issuer: "https://idp.example/", clients: [])
        environment.name = "prod"
        let target = ProbeTarget(environment: environment, client: nil)
        func run(_ fingerprint: String, at seconds: Double) -> ProbeResult {
            var jwks = StepResult(step: .jwks, outcome: .success, jwksKeys: 1)
            jwks.jwksFingerprint = fingerprint
            return ProbeResult(
                target: TargetKey(environment: "prod", client: ""),
                startedAt: Date(timeIntervalSince1970: seconds),
                steps: [StepResult(step: .discovery, outcome: .success), jwks]
            )
        }
        var runs = [run("k1", at: 100), run("k1", at: 160)]
        var body = MonitorMetrics.recording(runs, targets: [target]).exposition
        #expect(!body.contains("authprobe_jwks_last_rotation_timestamp_seconds{"))
        runs += [run("k1,k2", at: 220), run("k1,k2", at: 280)]
        body = MonitorMetrics.recording(runs, targets: [target]).exposition
        #expect(body.contains(#"authprobe_jwks_last_rotation_timestamp_seconds{environment="prod"} 220.0"#))
    }
}
