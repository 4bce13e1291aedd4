import Foundation
import Testing

@testable import AuthProbe

/// The `alerting` section: every key reaches the configuration, every bad value is named by file, line and field,
/// and a webhook's key never appears in an error.
@Suite struct AlertingConfigTests {
    typealias Scratch = ConfigHardeningTests.Scratch

    static let environments = """
        environments:
          - name: cat
            issuer: https://cat.example.com/oidc/

        """

    @Test func withoutTheSectionEveryDefaultHolds() throws {
        let scratch = try Scratch()
        let config = try ConfigLoader(environment: [:]).load(path: try scratch.write("a.yaml", Self.environments))
        #expect(config.alerting.thresholds == AlertThresholds())
        #expect(config.alerting.alertmanagers.isEmpty && config.alerting.webhooks.isEmpty)
        #expect(config.alerting.resendInterval == .seconds(60))
        #expect(config.alerting.repeatInterval == .seconds(4 * 3600))
        #expect(AlertThresholds().errorRatioThreshold > 0.143 && AlertThresholds().errorRatioThreshold < 0.145)
    }

    @Test func everyKeyIsRead() throws {
        let scratch = try Scratch()
        try scratch.write("hook.key", "hook-hmac-key-value\n")
        let yaml = """
            alerting:
              resend_interval: 30s
              repeat_interval: 2h
              rules:
                confirm_runs: 3
                provider_failures: 4
                api_failures: 5
                resolve_after: 1
                token_objective: 0.995
                burn_rate: 6
                short_window: 10m
                long_window: 6h
                latency_bound: 1500ms
                latency_window: 15m
                expiry_warning: 30d
                expiry_critical: 7d
                lifetime_tolerance: 0.2
                lifetime_settle: 12h
              alertmanager:
                - url: http://127.0.0.1:9093/
                - name: am-west
                  url: http://alertmanager.west:9093
                  timeout: 5s
              webhooks:
                - url: https://hooks.example/T1/B2?x=1
                  secret_file: hook.key
                - name: pager
                  url: http://127.0.0.1:8080/hook
                  secret: ${HOOK_KEY}
                  timeout: 3s

            """ + Self.environments
        let path = try scratch.write("a.yaml", yaml)
        let alerting = try ConfigLoader(environment: ["HOOK_KEY": "env-hmac-key"]).load(path: path).alerting
        var expected = AlertThresholds()
        expected.confirmRuns = 3
        expected.providerFailures = 4
        expected.apiFailures = 5
        expected.resolveAfter = 1
        expected.tokenObjective = 0.995
        expected.burnRate = 6
        expected.shortWindow = .seconds(600)
        expected.longWindow = .seconds(6 * 3600)
        expected.latencyBound = .milliseconds(1500)
        expected.latencyWindow = .seconds(900)
        expected.expiryWarning = .seconds(30 * 86_400)
        expected.expiryCritical = .seconds(7 * 86_400)
        expected.lifetimeTolerance = 0.2
        expected.lifetimeSettle = .seconds(12 * 3600)
        #expect(alerting.thresholds == expected)
        #expect(alerting.resendInterval == .seconds(30) && alerting.repeatInterval == .seconds(7200))
        #expect(
            alerting.alertmanagers == [
                AlertmanagerReceiver(name: "alertmanager", url: "http://127.0.0.1:9093"),
                AlertmanagerReceiver(name: "am-west", url: "http://alertmanager.west:9093", timeout: .seconds(5)),
            ]
        )
        #expect(alerting.webhooks.map(\.name) == ["webhook", "pager"])
        #expect(alerting.webhooks.map(\.url) == ["https://hooks.example/T1/B2?x=1", "http://127.0.0.1:8080/hook"])
        #expect(alerting.webhooks[0].secret.withRawValue { $0 } == "hook-hmac-key-value")
        #expect(alerting.webhooks[1].secret.withRawValue { $0 } == "env-hmac-key")
        #expect(alerting.webhooks[1].timeout == .seconds(3))
    }

    @Test func badValuesAreNamedByLineAndField() throws {
        let scratch = try Scratch()
        let yaml = """
            alerting:
              rules:
                confirm_runs: 0
                token_objective: 1
                short_window: 2h
                long_window: 1h
                expiry_critical: 20d
                lifetime_tolerance: lots
                pages: yes
              alertmanager:
                - url: ftp://am.example
                - url: http://user:hunter2-password@am.example:9093
                - name: dup
                  url: http://127.0.0.1:9093?x=1
              webhooks:
                - name: dup
                  url: https://hooks.example/x
                  secret: hunter2-literal-value
                - url: https://hooks.example/y

            """ + Self.environments
        let lines = ConfigHardeningTests.errorLines(try scratch.write("a.yaml", yaml), in: scratch, environment: [:])
        #expect(
            lines == [
                "a.yaml:9: alerting.rules.pages: unknown key (expected one of: "
                    + AuthProbe.ConfigParser.alertRuleKeys.joined(separator: ", ") + ")",
                "a.yaml:3: alerting.rules.confirm_runs: must be between 1 and 1000",
                "a.yaml:4: alerting.rules.token_objective: must be above 0 and below 1",
                "a.yaml:8: alerting.rules.lifetime_tolerance: expected a number",
                "a.yaml:5: alerting.rules.short_window: must be shorter than long_window (1h)",
                "a.yaml:7: alerting.rules.expiry_critical: must be shorter than expiry_warning (14d)",
                "a.yaml:11: alerting.alertmanager[0].url: expected an absolute https:// URL",
                "a.yaml:12: alerting.alertmanager[1].url: a user name or password in the URL is not accepted; "
                    + "remove the part before @",
                "a.yaml:14: alerting.alertmanager[2].url: expected a base URL without query or fragment",
                "a.yaml:18: alerting.webhooks[0].secret: must be a ${ENV_VAR} reference; literal secrets are not "
                    + "accepted (or use client_secret_file)",
                "a.yaml:19: alerting.webhooks[1].secret_file: required: the HMAC key (secret_file, or secret: "
                    + "${ENV_VAR})",
            ],
            "\(lines.joined(separator: "\n"))"
        )
        #expect(!lines.joined().contains("hunter2"))
    }
}
