import AuthProbe
import Foundation
import Testing

/// `config/authprobe.example.yaml` is documentation that must stay valid for the parser.
@Suite("Example configuration")
struct ExampleConfigTests {
    @Test("the shipped example loads with its variables and secret file provided")
    func exampleLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("config/authprobe.example.yaml"), encoding: .utf8)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("example-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let secretFile = directory.appendingPathComponent("apiture-production")
        try "production-secret\n".write(to: secretFile, atomically: true, encoding: .utf8)
        let hookKey = directory.appendingPathComponent("ops-chat-hmac")
        try "hook-key\n".write(to: hookKey, atomically: true, encoding: .utf8)
        let yaml = text.replacingOccurrences(
            of: "/run/credentials/authprobe.service/apiture-production",
            with: secretFile.path
        ).replacingOccurrences(of: "/run/credentials/authprobe.service/ops-chat-hmac", with: hookKey.path)
        let environment = [
            "APITURE_PROD_CLIENT_ID": "prod-id",
            "APITURE_CAT_CLIENT_ID": "cat-id", "APITURE_CAT_CLIENT_SECRET": "cat-secret",
            "APITURE_CAT2_CLIENT_ID": "cat2-id", "APITURE_CAT2_CLIENT_SECRET": "cat2-secret",
            "OPS_CHAT_HOOK_PATH": "T000/B000",
        ]
        let config = try ConfigLoader(environment: environment)
            .parse(yaml: yaml, file: "authprobe.example.yaml", baseDirectory: directory.path)
        #expect(config.environments.map(\.name) == ["production", "cat", "cat2"])
        #expect(
            config.environments.map(\.issuer) == [
                "https://auth.apiture.com/oidc/",
                "https://cat-oidc.apiture-comm-preprod.com/oidc/",
                "https://cat2-oidc.apiture-comm-preprod.com/oidc/",
            ]
        )
        #expect(config.environments[0].discoveryURL == "https://auth.apiture.com/oidc/.well-known/openid-configuration")
        #expect(config.targets.count == 3)
        #expect(config.environments[0].clients[0].secret?.withRawValue { $0 } == "production-secret")
        #expect(config.listen == ListenAddress(host: "127.0.0.1", port: 9470))
        #expect(config.alerting.thresholds == AlertThresholds(), "the example documents the defaults")
        #expect(
            config.alerting.alertmanagers == [AlertmanagerReceiver(name: "alertmanager", url: "http://127.0.0.1:9093")]
        )
        #expect(config.alerting.webhooks.map(\.url) == ["https://hooks.example/services/T000/B000"])
    }
}
