import AuthProbe
import Foundation
import JWTKit
import Testing

/// The classifiers of discovery, JWKS and token responses and the JWT inspector never trap: boundary and random
/// bodies and headers give a classified step result.
@Suite("Provider documents under hostile input")
struct ProviderDocumentFuzzTests {
    static let environment = TestTargets.environment(issuer: "https://idp.example")
    static let now = Date(timeIntervalSince1970: 1_700_000_000)

    static let hugeNumber = String(repeating: "9", count: 1_000_000)

    /// Bodies that stress number parsing, nesting, encoding and types.
    static let boundaryBodies: [String] = [
        "", " ", "null", "[]", "{}", "\"text\"", "{", "}}}}", "\u{0}",
        #"{"expires_in":\#(hugeNumber),"access_token":"t","token_type":"Bearer"}"#,
        #"{"expires_in":-\#(hugeNumber),"access_token":"t","token_type":"Bearer"}"#,
        #"{"expires_in":1e309,"access_token":"t","token_type":"Bearer"}"#,
        #"{"expires_in":-1e309,"access_token":"t","token_type":"Bearer"}"#,
        #"{"expires_in":"\#(hugeNumber)","access_token":"t","token_type":"Bearer"}"#,
        #"{"expires_in":9223372036854775808,"access_token":"t","token_type":"Bearer"}"#,
        #"{"expires_in":0.5,"access_token":"t","token_type":"Bearer"}"#,
        #"{"expires_in":[],"access_token":{},"token_type":7}"#,
        #"{"error":\#(hugeNumber)}"#, #"{"error":null,"error_description":[1,2]}"#,
        #"{"keys":\#(hugeNumber)}"#, #"{"keys":[\#(String(repeating: "{},", count: 10_000)){}]}"#,
        #"{"keys":[{"kty":"RSA","n":\#(hugeNumber),"e":"AQAB","kid":7}]}"#,
        #"{"issuer":\#(hugeNumber),"token_endpoint":[],"jwks_uri":{}}"#,
        String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000),
        "{\"a\":" + String(repeating: "{\"a\":", count: 5_000) + "1" + String(repeating: "}", count: 5_001),
    ]

    static func classify(_ body: [UInt8], status: Int, headers: [(name: String, value: String)] = []) -> [StepResult] {
        let response = TransportResponse(status: status, headers: headers, body: body)
        return [
            ResponseClassifier.discovery(response, environment: Self.environment, now: Self.now).result,
            ResponseClassifier.jwks(response, now: Self.now),
            ResponseClassifier.token(response, now: Self.now),
        ]
    }

    @Test("boundary bodies give a classified result, never a trap", arguments: Self.boundaryBodies.indices)
    func boundary(_ index: Int) {
        // 200 parses every document; 401 parses the token endpoint's error body.
        for status in [200, 401] {
            for result in Self.classify(Array(Self.boundaryBodies[index].utf8), status: status) {
                if status != 200 { #expect(result.outcome != .success) }
                #expect(result.detail.utf8.count < 4096, "a detail stays bounded")
            }
        }
    }

    @Test("random bytes and headers give a classified result, never a trap")
    func randomBodies() {
        var generator = SplitMix64(seed: 0xb0d1)
        let fragments = [
            "{", "}", "[", "]", ",", ":", "\"", "1", "-", "e", "9999999999999999999", "null", "true",
            "\"expires_in\"", "\"access_token\"", "\"token_type\"", "\"keys\"", "\"error\"", "\"issuer\"", "\\u0000",
            "\u{ff}", "é",
        ]
        for _ in 0..<1_000 {
            let count = Int(generator.next() % 40)
            var text = ""
            for _ in 0..<count { text += fragments[Int(generator.next() % UInt64(fragments.count))] }
            var bytes = Array(text.utf8)
            if generator.next() % 4 == 0 { bytes += (0..<16).map { _ in UInt8(truncatingIfNeeded: generator.next()) } }
            let headers: [(name: String, value: String)] = [
                ("Retry-After", String(Int64(bitPattern: generator.next()))),
                ("Date", "Sun, 06 Nov \(Int64(bitPattern: generator.next())) 08:49:37 GMT"),
                ("Cache-Control", text),
            ]
            for status in [200, 401, 429] {
                for result in Self.classify(bytes, status: status, headers: headers) {
                    if let wait = result.retryAfter { #expect(wait >= .zero) }
                }
            }
        }
    }

    @Test("JWTs with hostile headers and claims give an inspection result, never a trap")
    func hostileTokens() async throws {
        let key = ES256PrivateKey()
        let keys = await JWTKeyCollection().add(ecdsa: key, kid: "k1")
        func b64(_ text: String) -> String {
            Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let claims = [
            #"{"iss":"https://idp.example","exp":\#(Self.hugeNumber),"iat":-\#(Self.hugeNumber)}"#,
            #"{"iss":"https://idp.example","exp":1e309,"iat":-1e309}"#,
            #"{"iss":"https://idp.example\nlevel=critical msg=forged","exp":9223372036854775807,"iat":0}"#,
            #"{"iss":[],"exp":"soon","iat":{}}"#,
        ]
        let headers = [
            #"{"alg":"ES256","kid":"k1","typ":"JWT"}"#, #"{"alg":"none"}"#, #"{"alg":\#(Self.hugeNumber)}"#,
            #"{"alg":"ES256","kid":"\#(String(repeating: "k", count: 100_000))"}"#,
        ]
        var tokens: [String] = ["", ".", "..", "a.b.c", String(repeating: "A", count: 1 << 20)]
        // Every header with every claim set, except that the megabyte ones meet only the plainest partner.
        for (h, header) in headers.enumerated() {
            for (c, claim) in claims.enumerated() where h == 0 || c == 0 || (header.count < 1000 && claim.count < 1000)
            {
                tokens.append("\(b64(header)).\(b64(claim)).\(b64("signature"))")
            }
        }
        // A correctly signed token whose claims are absurd.
        struct Absurd: JWTPayload {
            var iss: IssuerClaim
            var exp: ExpirationClaim
            func verify(using algorithm: some JWTAlgorithm) throws {}
        }
        tokens.append(
            try await keys.sign(
                Absurd(iss: "https://idp.example", exp: ExpirationClaim(value: Date(timeIntervalSince1970: 1e15))),
                kid: "k1"
            )
        )
        let jwks = #"{"keys":[\#(try TokenInspectionTests.jwk(key, kid: "k1"))]}"#
        let signed = tokens.count - 1
        for (index, token) in tokens.enumerated() {
            // Megabyte tokens once; the others with every expires_in boundary.
            for expiresIn in token.utf8.count > 100_000 ? [Int.max] : [nil, 1, Int.max, Int.min] {
                let inspection = await TokenInspector.inspect(
                    token: Secret(token),
                    jwks: jwks,
                    issuer: "https://idp.example",
                    expiresIn: expiresIn,
                    receivedAt: Self.now
                )
                if let inspection, index != signed { #expect(inspection.outcome != .success, "\(token.prefix(80))") }
            }
        }
    }
}

extension ProviderDocumentFuzzTests {
    @Test("a discovery naming an endpoint longer than 8 KiB is invalid, and nothing that long is parsed or kept")
    func hugeEndpoint() {
        let huge = "https://idp.example/" + String(repeating: "a", count: 10_000)
        let body =
            #"{"issuer":"https://idp.example","token_endpoint":"\#(huge)","jwks_uri":"https://idp.example/jwks"}"#
        let (result, discovery) = ResponseClassifier.discovery(
            TransportResponse(status: 200, body: Array(body.utf8)),
            environment: Self.environment,
            now: Self.now
        )
        #expect(discovery == nil)
        #expect(result.outcome == .discoveryInvalid)
        #expect(result.detail.contains("token_endpoint is longer than 8192 bytes"), "\(result.detail)")
        #expect(!result.detail.contains(huge))
    }
}
