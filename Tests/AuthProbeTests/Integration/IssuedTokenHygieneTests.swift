import AuthProbe
import AuthProbeTesting
import Foundation
import Testing

/// The issued access token (and the client secret) never reach the log, the SQLite file or /metrics,
/// even when the API step sends the token on and the provider's API rejects it.
@Suite("Issued-token hygiene")
struct IssuedTokenHygieneTests {
    @Test("the access token appears in no log line, database byte or metrics body")
    func tokenNeverStored() async throws {
        let provider = try await FakeProvider.make()
        let token = "issued-token-\(UUID().uuidString)"
        provider.set("/token", .json(200, #"{"access_token":"\#(token)","token_type":"Bearer","expires_in":300}"#))
        // The API rejects the token and echoes it back, as a careless API might.
        provider.set("/api", .json(401, #"{"error":"invalid_token","received":"Bearer \#(token)"}"#))
        var environment = TestTargets.environment(issuer: provider.issuer, interval: .milliseconds(300))
        environment.apiCheck = APICheck(url: provider.issuer + "/api")
        let traces = try await MonitorTraces.collect(environment: environment, provider: provider, until: "/api")
        #expect(traces.metricsBody.contains(#"outcome="api_rejected""#), "the runs happened")
        #expect(traces.rows.contains { $0.outcome == "api_rejected" })
        traces.expectAbsent(token)
        traces.expectAbsent(TestTargets.secret.withRawValue { $0 })
        #expect(provider.requests.first { $0.path == "/api" }?.header("Authorization") == "Bearer \(token)")
    }
}

/// A private_key_jwt client's key and its signed assertions never reach the log, the SQLite file or
/// /metrics, even when the provider repeats the request (assertion included) in its error.
@Suite("Client-assertion hygiene")
struct ClientAssertionHygieneTests {
    @Test("neither the private key nor an assertion appears in a log line, database byte or metrics body")
    func assertionNeverStored() async throws {
        let provider = try await FakeProvider.make()
        provider.set("/token", .echoError(status: 401, error: "invalid_client"))
        let pem = try String(
            contentsOf: ConfigLoaderTests.fixtures.appendingPathComponent("valid/keys/signing-ec.pem"),
            encoding: .utf8
        )
        var client = ClientConfig(name: "svc", clientID: "svc-client", secret: nil, authMethod: .privateKeyJWT)
        client.signingKey = SigningKey(pem: Secret(pem), algorithm: .es256, keyID: "k1")
        let environment = TestTargets.environment(
            issuer: provider.issuer,
            interval: .milliseconds(300),
            clients: [client]
        )
        let traces = try await MonitorTraces.collect(environment: environment, provider: provider, until: "/token")
        #expect(traces.metricsBody.contains(#"outcome="invalid_client""#), "the runs happened")
        // The echo reached the stored detail, assertion field first, with the assertion itself removed.
        #expect(
            traces.rows.contains {
                $0.outcome == "invalid_client" && $0.detail.contains("rejected request: client_assertion=")
            }
        )
        let assertions = provider.requests.filter { $0.path == "/token" }
            .compactMap { FormEncoding.decode($0.body)["client_assertion"] }
        #expect(assertions.count >= 2)
        // The key's base64 lines; each assertion whole, its signature, and the start of its claims (unique
        // per assertion: the jti), which is what a 200-character quote of the echo would show.
        let keyLines = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.map(String.init)
        let parts = assertions.map { $0.split(separator: ".").map(String.init) }
        let signatures = parts.compactMap(\.last)
        let claimStarts = parts.compactMap { $0.count == 3 ? String($0[1].prefix(40)) : nil }
        for value in keyLines + assertions + signatures + claimStarts {
            traces.expectAbsent(value)
        }
    }
}

/// What a monitor left behind after probing a fake provider: every log line, a /metrics body, the stored
/// rows and the bytes of every SQLite file. Hygiene tests search all of them for a credential.
struct MonitorTraces {
    var lines: [String]
    var metricsBody: String
    var rows: [StoredStepResult]
    var files: [Data]

    /// Runs a monitor (debug logging) on `environment` against `provider` until `path` was requested twice.
    static func collect(environment: EnvironmentConfig, provider: FakeProvider, until path: String) async throws
        -> MonitorTraces
    {
        let work = try Checkout.temporaryDirectory("hygiene")
        defer { try? FileManager.default.removeItem(at: work) }
        let metricsPort = try await LoopbackPort.free()
        let config = MonitorConfig(
            listen: ListenAddress(host: "127.0.0.1", port: metricsPort),
            database: work.appendingPathComponent("authprobe.sqlite").path,
            environments: [environment]
        )
        let (logger, lines) = RecordingLogHandler.logger()
        let monitor = try await Monitor.build(config: config, logger: logger)
        let metricsBody = try await withRunningServices(
            [provider.application()] + monitor.services,
            waitingFor: [provider.port, metricsPort]
        ) {
            #expect(await eventually(within: .seconds(10)) { provider.requests.filter { $0.path == path }.count >= 2 })
            return await httpGet("http://127.0.0.1:\(metricsPort)/metrics")?.body ?? ""
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: work.path)
            .filter { $0.hasPrefix("authprobe.sqlite") }
            .map { try Data(contentsOf: work.appendingPathComponent($0)) }
        #expect(!files.isEmpty)
        return MonitorTraces(
            lines: lines.all,
            metricsBody: metricsBody,
            rows: try await monitor.store.recent(),
            files: files
        )
    }

    /// Expects `value` nowhere: not in a log line, the metrics, a stored detail or any database byte.
    func expectAbsent(_ value: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!self.lines.contains { $0.contains(value) }, "log", sourceLocation: sourceLocation)
        #expect(!self.metricsBody.contains(value), "metrics", sourceLocation: sourceLocation)
        #expect(!self.rows.contains { $0.detail.contains(value) }, "stored detail", sourceLocation: sourceLocation)
        for data in self.files {
            #expect(data.range(of: Data(value.utf8)) == nil, "SQLite bytes", sourceLocation: sourceLocation)
        }
    }
}
