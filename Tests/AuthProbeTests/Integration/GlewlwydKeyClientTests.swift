import AuthProbe
import Foundation
import Testing

/// A private_key_jwt client (RFC 7523) against glewlwyd: configured from YAML like an operator would, its
/// assertion accepted, and a rotated key at the provider seen as a rejected credential.
@Suite("private_key_jwt against glewlwyd", .serialized)
struct GlewlwydKeyClientTests {
    @Test("glewlwyd accepts the signed assertion; after a key rotation at the provider the old key is rejected")
    func privateKeyJWT() async throws {
        try await Glewlwyd.with { provider, work in try await Self.scenario(&provider, work: work) }
    }

    static func makeKey(_ name: String, in work: URL) async throws -> (privateKey: String, publicKey: String) {
        let privateKey = work.appendingPathComponent("\(name).pem").path
        let publicKey = work.appendingPathComponent("\(name).pub").path
        let openssl = URL(fileURLWithPath: "/usr/bin/openssl")
        for arguments in [
            ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", privateKey],
            ["pkey", "-in", privateKey, "-pubout", "-out", publicKey],
        ] {
            let output = try await runCommand(openssl, arguments)
            guard output.status == 0 else { throw CommandFailed(command: "openssl \(arguments[0])", output: output) }
        }
        return (privateKey, publicKey)
    }

    static func scenario(_ provider: inout Glewlwyd, work: URL) async throws {
        let key = try await Self.makeKey("client-key", in: work)
        try await provider.run("add-jwt-client", ["jwt-monitor", key.publicKey, "monitor-2026"])
        let configURL = work.appendingPathComponent("authprobe.yaml")
        try """
        environments:
          - name: glewlwyd
            issuer: \(provider.issuer)
            timeout: 5s
            clients:
              - name: jwt-monitor
                client_id: jwt-monitor
                auth_method: private_key_jwt
                private_key_file: client-key.pem
                key_id: monitor-2026
                scope: \(provider.scope)
        """.write(to: configURL, atomically: true, encoding: .utf8)
        let config = try ConfigLoader().load(path: configURL.path)
        let target = try #require(config.targets.first)
        let prober = Prober(transport: try NIOHTTPTransport())

        let accepted = await prober.probe(target)
        #expect(accepted.succeeded, "\(accepted.steps.map(\.detail))")
        #expect(accepted.steps.map(\.step) == [.discovery, .jwks, .token])
        // glewlwyd advertises private_key_jwt once it is enabled, and its tokens still verify.
        #expect(accepted.steps.first?.conformance.violated.contains(.authMethodAdvertised) == false)
        #expect(accepted.steps.last?.detail.hasSuffix("JWT verified against the JWKS") == true)

        // The client's key is replaced at the provider: the configured key no longer authenticates it.
        let rotated = try await Self.makeKey("rotated-key", in: work)
        try await provider.run("add-jwt-client", ["jwt-monitor", rotated.publicKey, "monitor-2027"])
        let rejected = await prober.probe(target)
        #expect(rejected.steps.last?.step == .token)
        #expect(rejected.steps.last?.outcome == .credentialRejected, "\(rejected.steps.map(\.detail))")
        #expect(rejected.steps.last?.outcome.scope == .credential)
    }
}
