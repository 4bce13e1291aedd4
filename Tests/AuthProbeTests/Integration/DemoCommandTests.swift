import AuthProbe
import Foundation
import Testing

/// The README's first command: `authprobe demo` works with no credentials and no internet, and shows
/// a healthy and a revoked credential within seconds, and the built-in alert for the revoked one.
@Suite("authprobe demo")
struct DemoCommandTests {
    @Test("the demo serves success and invalid_client metrics within seconds, and stops on SIGTERM")
    func demo() async throws {
        let work = try Checkout.temporaryDirectory("authprobe-demo")
        defer { try? FileManager.default.removeItem(at: work) }
        let port = try await LoopbackPort.free()
        let demo = try BackgroundProcess(
            Checkout.authprobeBinary,
            ["demo", "--listen", "127.0.0.1:\(port)", "--database", work.appendingPathComponent("demo.sqlite").path],
            log: work.appendingPathComponent("demo.log")
        )
        let url = "http://127.0.0.1:\(port)/metrics"
        #expect(await eventually(within: .seconds(15)) { demo.log.contains("metrics: \(url)") }, "\(demo.log)")
        var body = ""
        let healthy = await eventually(within: .seconds(15)) {
            body = await httpGet(url)?.body ?? ""
            return MetricsText.value(body, "authprobe_up", ["environment": "demo", "client": "reporting-service"]) == 1
                && MetricsText.value(body, "authprobe_up", ["environment": "demo", "client": "revoked-service"]) == 0
        }
        #expect(healthy, "\(body)")
        let rejected = MetricsText.value(
            body,
            "authprobe_step_results_total",
            [
                "environment": "demo", "client": "revoked-service", "step": "token", "outcome": "invalid_client",
                "scope": "credential",
            ]
        )
        #expect((rejected ?? 0) >= 1)
        #expect(
            MetricsText.value(
                body,
                "authprobe_token_lifetime_seconds",
                ["environment": "demo", "client": "reporting-service"]
            ) == 3600
        )
        // The revoked credential's second run confirms the rejection: the built-in alert fires.
        let paged = await eventually(within: .seconds(15)) {
            body = await httpGet(url)?.body ?? ""
            return MetricsText.value(
                body,
                "authprobe_alerts_firing",
                ["alertname": "CredentialRejected", "severity": "critical"]
            ) == 1
        }
        #expect(paged, "\(demo.log)")
        #expect(demo.log.contains("alert.client=revoked-service") && demo.log.contains("alert firing"))
        #expect(await httpGet("http://127.0.0.1:\(port)/healthz")?.status == 200)
        #expect(await httpGet("http://127.0.0.1:\(port)/readyz")?.status == 200)
        #expect(await demo.stop() == 0, "\(demo.log)")
    }
}
