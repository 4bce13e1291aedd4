import AuthProbe
import AuthProbeTesting
import Testing

/// Peers that break HTTP itself become classified outcomes, never a crash or a hang.
@Suite("Broken peers")
struct BrokenPeerTests {
    static let cases: [(String, String, Outcome)] = [
        ("not HTTP", "SSH-2.0-OpenSSH_9.2\r\n\r\n", .httpProtocolError),
        ("closed without answering", "", .connectionError),
        ("truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"issuer\"", .connectionError),
        ("garbage status line", "HTTP/1.1 abc\r\n\r\n", .httpProtocolError),
    ]

    @Test("a broken peer on the discovery URL gives a transport outcome", arguments: BrokenPeerTests.cases)
    func brokenPeer(_ name: String, _ reply: String, _ expected: Outcome) async throws {
        let server = try await RawTCPServer.start(reply: Array(reply.utf8))
        let environment = TestTargets.environment(issuer: "http://127.0.0.1:\(server.port)", timeout: .seconds(5))
        let result = try await TestTargets.prober()
            .probe(ProbeTarget(environment: environment, client: environment.clients[0]))
        await server.close()
        #expect(result.steps.count == 1, "\(name)")
        #expect(result.steps.first?.outcome == expected, "\(name): \(result.steps.first?.detail ?? "")")
        #expect(
            (result.steps.first?.timings.total ?? .seconds(9)) < .seconds(4),
            "\(name): no hang before the 5 s deadline"
        )
    }
}
