import AuthProbe
import AuthProbeTesting
import Foundation
import JWTKit
import NIOSSL
import Testing

/// Client authentication without a shared secret: private_key_jwt (RFC 7523) and mutual TLS (RFC 8705).
@Suite("Client authentication: private_key_jwt and mutual TLS")
struct ClientAuthenticationTests {
    static var keys: URL { ConfigLoaderTests.fixtures.appendingPathComponent("valid/keys") }

    static func pem(_ name: String) throws -> String {
        try String(contentsOf: self.keys.appendingPathComponent(name), encoding: .utf8)
    }

    struct AssertionClaims: JWTPayload {
        var iss: IssuerClaim
        var sub: SubjectClaim
        var aud: AudienceClaim
        var jti: IDClaim
        var iat: IssuedAtClaim
        var exp: ExpirationClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try self.exp.verifyNotExpired()
        }
    }

    static func jwtClient(_ key: SigningKey) -> ClientConfig {
        var client = ClientConfig(
            name: "svc",
            clientID: "svc-client",
            secret: nil,
            authMethod: .privateKeyJWT,
            scope: "read"
        )
        client.signingKey = key
        return client
    }

    @Test(
        "private_key_jwt posts a fresh assertion signed by the key, for the token endpoint",
        arguments: ["rsa", "ec"]
    )
    func privateKeyJWT(_ kind: String) async throws {
        let key = SigningKey(
            pem: Secret(try Self.pem("signing-\(kind).pem")),
            algorithm: kind == "rsa" ? .rs256 : .es256,
            keyID: "key-2026"
        )
        let provider = try await FakeProvider.make()
        let environment = TestTargets.environment(issuer: provider.issuer, clients: [Self.jwtClient(key)])
        let target = ProbeTarget(environment: environment, client: environment.clients[0])
        let results = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            let prober = try TestTargets.prober()
            return [await prober.probe(target), await prober.probe(target)]
        }
        #expect(results.allSatisfy { $0.succeeded }, "\(results.flatMap(\.steps).map(\.detail))")

        let verifier = JWTKeyCollection()
        if kind == "rsa" {
            await verifier.add(
                rsa: try Insecure.RSA.PublicKey(pem: Self.pem("signing-rsa.pub")),
                digestAlgorithm: .sha256
            )
        } else {
            await verifier.add(ecdsa: try ES256PublicKey(pem: Self.pem("signing-ec.pub")))
        }
        var ids: [String] = []
        for request in provider.requests where request.path == "/token" {
            #expect(request.header("Authorization") == nil)
            let fields = FormEncoding.decode(request.body)
            #expect(fields["client_id"] == "svc-client")
            #expect(fields["client_secret"] == nil)
            #expect(fields["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            #expect(fields["grant_type"] == "client_credentials" && fields["scope"] == "read")
            let assertion = try #require(fields["client_assertion"])
            let claims = try await verifier.verify(assertion, as: AssertionClaims.self)
            #expect(claims.iss.value == "svc-client" && claims.sub.value == "svc-client")
            #expect(claims.aud.value == ["\(provider.issuer)/token"])
            #expect(claims.exp.value.timeIntervalSince(claims.iat.value) == 60)
            let header = try JSONSerialization.jsonObject(
                with: Data(base64URL: String(assertion.split(separator: ".")[0]))
            )
            #expect((header as? [String: Any])?["kid"] as? String == "key-2026")
            // NumericDate as whole seconds: providers such as glewlwyd refuse fractional iat/exp.
            let payload = try JSONSerialization.jsonObject(
                with: Data(base64URL: String(assertion.split(separator: ".")[1]))
            )
            for claim in ["iat", "exp"] {
                let value = try #require((payload as? [String: Any])?[claim] as? Double)
                #expect(value == value.rounded(), "\(claim) \(value)")
            }
            ids.append(claims.jti.value)
        }
        #expect(ids.count == 2 && Set(ids).count == 2, "every assertion has its own jti")
    }

    @Test("assertion_audience replaces the token endpoint as aud")
    func assertionAudience() async throws {
        var key = SigningKey(pem: Secret(try Self.pem("signing-ec.pem")), algorithm: .es256)
        key.audience = "https://issuer.example/"
        let provider = try await FakeProvider.make()
        var allowing = TestTargets.environment(issuer: provider.issuer, clients: [Self.jwtClient(key)])
        // A URL audience names where the assertion may be replayed: the issuer's host, or an allowed one.
        allowing.allowedHosts = ["issuer.example"]
        let environment = allowing
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(ProbeTarget(environment: environment, client: environment.clients[0]))
        }
        #expect(result.succeeded)
        let token = try #require(provider.requests.first { $0.path == "/token" })
        let assertion = try #require(FormEncoding.decode(token.body)["client_assertion"])
        let payload = try JSONSerialization.jsonObject(
            with: Data(base64URL: String(assertion.split(separator: ".")[1]))
        )
        #expect((payload as? [String: Any])?["aud"] as? String == "https://issuer.example/")
    }

    @Test("mutual TLS: the token endpoint gets the client certificate; without it the handshake fails")
    func mutualTLS() async throws {
        let serverCertificate = try await TestCertificate.make(subjectAltName: "IP:127.0.0.1")
        defer { serverCertificate.remove() }
        let clientCertificateFile = Self.keys.appendingPathComponent("client-ec.crt").path
        let body = FakeProvider.validToken
        let answer =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
        let tokenServer = try await RawTCPServer.start(
            script: [.send(Array(answer.utf8))],
            tls: try serverCertificate.serverContext(clientCA: clientCertificateFile)
        )
        let provider = try await FakeProvider.make()
        let tokenEndpoint = "https://127.0.0.1:\(tokenServer.port)/token"
        provider.set(
            FakeProvider.discoveryPath,
            .json(200, FakeProvider.discoveryDocument(issuer: provider.issuer, tokenEndpoint: tokenEndpoint))
        )
        var client = ClientConfig(name: "svc", clientID: "svc-client", secret: nil, authMethod: .tlsClientAuth)
        let notAfter = Date(
            timeIntervalSince1970: TimeInterval(
                try #require(NIOSSLCertificate.fromPEMFile(clientCertificateFile).first).notValidAfter
            )
        )
        client.tlsClientCertificate = ClientCertificate(
            certificateFile: clientCertificateFile,
            keyFile: Self.keys.appendingPathComponent("client-ec.key").path,
            notAfter: notAfter
        )
        var environment = TestTargets.environment(
            issuer: provider.issuer,
            clients: [client, TestTargets.client(name: "no-cert")]
        )
        environment.caFile = serverCertificate.certificateFile
        let targets = environment.clients.map { ProbeTarget(environment: environment, client: $0) }
        let (withCertificate, without) = try await withRunningServices(
            [provider.application()],
            waitingFor: [provider.port]
        ) {
            let prober = try TestTargets.prober()
            return (
                await prober.probe(targets[0]),
                await prober.probe(targets[1])
            )
        }
        await tokenServer.close()
        #expect(withCertificate.succeeded, "\(withCertificate.steps.map(\.detail))")
        #expect(without.steps.last?.step == .token)
        #expect(without.steps.last?.outcome == .tlsError, "\(without.steps.last?.detail ?? "")")
        #expect(
            without.steps.last?.detail == "TLS: the server refused the handshake (TLSV1_ALERT_CERTIFICATE_REQUIRED); "
                + "if it wants a client certificate, set tls_client_certificate_file"
        )

        // A certificate the endpoint does not trust is the credential's fault, not the provider's.
        let distrusting = try await RawTCPServer.start(
            script: [.send(Array(answer.utf8))],
            tls: try serverCertificate.serverContext(clientCA: serverCertificate.certificateFile)
        )
        provider.set(
            FakeProvider.discoveryPath,
            .json(
                200,
                FakeProvider.discoveryDocument(
                    issuer: provider.issuer,
                    tokenEndpoint: "https://127.0.0.1:\(distrusting.port)/token"
                )
            )
        )
        let refused = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(targets[0])
        }
        await distrusting.close()
        #expect(refused.steps.last?.outcome == .credentialRejected, "\(refused.steps.last?.detail ?? "")")
        #expect(
            refused.steps.last?.detail.hasPrefix("TLS: the token endpoint refused the client certificate (") == true
        )

        // The certificate's notAfter is the credential's expiry, kind "certificate".
        let exposition = MonitorMetrics(targets: [targets[0]]).exposition
        #expect(
            exposition.contains(
                #"authprobe_credential_expiry_timestamp_seconds{environment="fake",client="svc",kind="certificate"} \#(notAfter.timeIntervalSince1970)"#
            ),
            "\(exposition)"
        )
    }
}

extension Data {
    /// Decodes base64url without padding (JWT segments).
    init(base64URL text: String) throws {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64) else { throw CocoaError(.coderReadCorrupt) }
        self = data
    }
}
