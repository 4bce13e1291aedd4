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
        let work = try Checkout.temporaryDirectory("hygiene")
        defer { try? FileManager.default.removeItem(at: work) }
        var environment = TestTargets.environment(issuer: provider.issuer, interval: .milliseconds(300))
        environment.apiCheck = APICheck(url: provider.issuer + "/api")
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
            #expect(
                await eventually(within: .seconds(10)) { provider.requests.filter { $0.path == "/api" }.count >= 2 }
            )
            return await httpGet("http://127.0.0.1:\(metricsPort)/metrics")?.body ?? ""
        }
        #expect(metricsBody.contains(#"outcome="api_rejected""#), "the runs happened")
        let rows = try await monitor.store.recent()
        #expect(rows.contains { $0.outcome == "api_rejected" })
        let files = try FileManager.default.contentsOfDirectory(atPath: work.path)
            .filter { $0.hasPrefix("authprobe.sqlite") }
            .map { try Data(contentsOf: work.appendingPathComponent($0)) }
        #expect(!files.isEmpty)
        let secret = TestTargets.secret.withRawValue { $0 }
        for value in [token, secret] {
            #expect(!lines.all.contains { $0.contains(value) }, "log")
            #expect(!metricsBody.contains(value), "metrics")
            #expect(!rows.contains { $0.detail.contains(value) }, "stored detail")
            for data in files {
                #expect(data.range(of: Data(value.utf8)) == nil, "SQLite bytes")
            }
        }
        #expect(provider.requests.first { $0.path == "/api" }?.header("Authorization") == "Bearer \(token)")
    }
}
