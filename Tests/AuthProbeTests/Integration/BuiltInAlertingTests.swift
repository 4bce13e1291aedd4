import AuthProbe
import AuthProbeTesting
import Foundation
import Testing

/// The built-in alerts end to end: the `authprobe` binary probing a real glewlwyd, delivering to a real
/// Alertmanager and to a signed webhook on loopback, with its state in SQLite on disk.
@Suite("Built-in alerting against glewlwyd and Alertmanager", .serialized)
struct BuiltInAlertingTests {
    static let environment = "glewlwyd"
    static let clients = ["monitor", "monitor-b"]
    static let hookKey = "hook-hmac-key-for-tests-0123"

    static func config(
        _ provider: Glewlwyd,
        alertmanager: Alertmanager,
        hook: String,
        metricsPort: Int,
        work: URL,
        interval: String = "1s"
    ) -> String {
        """
        listen: 127.0.0.1:\(metricsPort)
        database: \(work.appendingPathComponent("authprobe.sqlite").path)
        defaults:
          interval: \(interval)
          timeout: 1s
        alerting:
          resend_interval: 2s
          alertmanager:
            - url: \(alertmanager.url)
          webhooks:
            - name: hook
              url: \(hook)
              secret: ${HOOK_KEY}
        environments:
          - name: \(self.environment)
            issuer: \(provider.issuer)
            clients:
        \(self.clients.map { """
                  - name: \($0)
                    client_id: ${GLW_CLIENT_ID}
                    client_secret: ${GLW_CLIENT_SECRET}
                    scope: \(provider.scope)
            """ }.joined(separator: "\n"))

        """
    }

    @Test(
        "revocation pages once per credential and resolves; an outage pages once per environment; restarts keep startsAt"
    )
    func lifecycle() async throws {
        try await Self.running(Self.scenario)
    }

    /// glewlwyd, an Alertmanager and a webhook receiver answering 200, for `scenario`; all removed after it.
    static func running(
        _ scenario: @escaping @Sendable (inout Glewlwyd, Alertmanager, LoopbackProvider, URL) async throws -> Void
    ) async throws {
        let hook = try await LoopbackProvider.make()
        hook.set("/hook", .json(200, "{}"))
        try await withRunningServices([hook.application()], waitingFor: [hook.port]) {
            try await Glewlwyd.with { provider, work in
                try await Alertmanager.with { alertmanager in try await scenario(&provider, alertmanager, hook, work) }
            }
        }
    }

    /// Writes the configuration for those parts into `work`; its path and the metrics port.
    static func configure(
        _ provider: Glewlwyd,
        _ alertmanager: Alertmanager,
        _ hook: LoopbackProvider,
        _ work: URL,
        interval: String = "1s"
    ) async throws -> (config: URL, metricsPort: Int) {
        let metricsPort = try await LoopbackPort.free()
        let config = work.appendingPathComponent("authprobe.yaml")
        try Self.config(
            provider,
            alertmanager: alertmanager,
            hook: hook.issuer + "/hook",
            metricsPort: metricsPort,
            work: work,
            interval: interval
        ).write(to: config, atomically: true, encoding: .utf8)
        return (config, metricsPort)
    }

    /// `authprobe run` with `config`, the client's credentials and the webhook key, logging to `log` in `work`.
    static func monitor(_ provider: Glewlwyd, secret: String, config: URL, work: URL, log: String) throws
        -> BackgroundProcess
    {
        try BackgroundProcess(
            Checkout.authprobeBinary,
            ["run", "--config", config.path, "--log-level", "debug"],
            environment: ["GLW_CLIENT_ID": provider.clientID, "GLW_CLIENT_SECRET": secret, "HOOK_KEY": Self.hookKey],
            log: work.appendingPathComponent(log)
        )
    }

    static func scenario(
        _ provider: inout Glewlwyd,
        alertmanager: Alertmanager,
        hook: LoopbackProvider,
        work: URL
    ) async throws {
        let (configURL, metricsPort) = try await Self.configure(provider, alertmanager, hook, work)
        let secret = provider.clientSecret
        func start(_ log: String) throws -> BackgroundProcess {
            try Self.monitor(provider, secret: secret, config: configURL, work: work, log: log)
        }
        func metrics() async -> String { await httpGet("http://127.0.0.1:\(metricsPort)/metrics")?.body ?? "" }
        func active(_ name: String) async throws -> [[String: String]] {
            try await alertmanager.alerts().compactMap { $0["labels"] as? [String: String] }
                .filter { $0["alertname"] == name }
        }

        var monitor = try start("authprobe-1.log")
        #expect(
            await eventually(within: .seconds(30)) {
                MetricsText.value(
                    await metrics(),
                    "authprobe_up",
                    ["environment": Self.environment, "client": "monitor"]
                )
                    == 1
            },
            "healthy first: \(monitor.log)"
        )
        #expect(try await alertmanager.alerts().isEmpty, "nothing fires while healthy")

        // 1. The client is disabled: CredentialRejected for each credential within two intervals (plus delivery).
        try await provider.run("revoke-client")
        let revoked = ContinuousClock.now
        #expect(
            try await eventually(within: .seconds(15)) { try await active("CredentialRejected").count == 2 },
            "CredentialRejected active: \(monitor.log.suffix(2000))"
        )
        let elapsed = ContinuousClock.now - revoked
        #expect(elapsed < .seconds(6), "paged after \(elapsed)")
        let labels = try #require(try await active("CredentialRejected").first { $0["client"] == "monitor" })
        #expect(labels["environment"] == Self.environment)
        #expect(labels["severity"] == "critical" && labels["scope"] == "credential")
        #expect(labels["outcome"] == "credential_rejected")
        let alert = try #require(try await alertmanager.alert(named: "CredentialRejected"))
        let annotations = try #require(alert["annotations"] as? [String: String])
        #expect(annotations["description"]?.contains("credential_rejected") == true)
        #expect(annotations["description"]?.contains("403") == true)
        #expect(annotations["runbook_url"]?.hasSuffix("#alert-credentialrejected") == true)
        let startsAt = try #require(alert["startsAt"] as? String)
        #expect(try await active("ProviderUnavailable").isEmpty, "a rejected credential is not a provider outage")
        #expect(
            MetricsText.value(
                await metrics(),
                "authprobe_alerts_firing",
                ["alertname": "CredentialRejected", "severity": "critical"]
            ) == 2
        )

        // 2. Killed while the alert fires, then started again: the same alert (same startsAt), not a new one.
        kill(monitor.child.pid, SIGKILL)
        _ = await monitor.stop()
        monitor = try start("authprobe-2.log")
        try await Task.sleep(for: .seconds(5))
        let again = try #require(try await alertmanager.alert(named: "CredentialRejected"))
        #expect(again["startsAt"] as? String == startsAt, "startsAt kept across SIGKILL")
        #expect(try await active("CredentialRejected").count == 2, "no duplicate")
        let fires = hook.requests.filter {
            $0.body.contains(#""action":"fire""#) && $0.body.contains("CredentialRejected")
        }
        #expect(fires.count == 2, "one fire per credential reached the webhook, none again after the restart")

        // 3. Enabled again: resolved.
        try await provider.run("revoke-client", ["--enable"])
        #expect(
            try await eventually(within: .seconds(15)) { try await active("CredentialRejected").isEmpty },
            "resolved: \(monitor.log.suffix(2000))"
        )

        // 4. glewlwyd stopped: one ProviderUnavailable for the environment, not one per credential.
        try await provider.run("stop")
        #expect(
            try await eventually(within: .seconds(20)) { try await active("ProviderUnavailable").count == 1 },
            "ProviderUnavailable: \(monitor.log.suffix(2000))"
        )
        try await Task.sleep(for: .seconds(3))
        let outage = try await active("ProviderUnavailable")
        #expect(outage.count == 1 && outage.first?["client"] == nil && outage.first?["scope"] == "provider")
        #expect(try await active("CredentialRejected").isEmpty, "an outage is not a rejected credential")
        try await provider.run("start")
        #expect(
            try await eventually(within: .seconds(20)) { try await active("ProviderUnavailable").isEmpty },
            "outage resolved"
        )
        #expect(await monitor.stop() == 0, "graceful stop: \(monitor.log.suffix(3000))")

        // 5. The webhook: every request signed; no secret or token in any payload, log line or database row.
        #expect(hook.requests.count >= 6)
        for request in hook.requests {
            #expect(
                request.header(WebhookPayload.signatureHeader)
                    == WebhookPayload.signature(Array(request.body.utf8), secret: Secret(Self.hookKey))
            )
        }
        let database = try Data(contentsOf: work.appendingPathComponent("authprobe.sqlite"))
        let wal = (try? Data(contentsOf: work.appendingPathComponent("authprobe.sqlite-wal"))) ?? Data()
        let logs =
            monitor.log + (try String(contentsOf: work.appendingPathComponent("authprobe-1.log"), encoding: .utf8))
        for needle in [secret, Self.hookKey] {
            #expect(!hook.requests.contains { $0.body.contains(needle) }, "a payload holds a secret")
            #expect(!logs.contains(needle), "a log line holds a secret")
            #expect(database.range(of: Data(needle.utf8)) == nil && wal.range(of: Data(needle.utf8)) == nil)
        }
        #expect(!hook.requests.contains { $0.body.contains("eyJ") }, "a payload holds a token")

        // 6. `authprobe alerts` lists the history from the database.
        let listing = try await runCommand(
            Checkout.authprobeBinary,
            ["alerts", "--config", configURL.path],
            environment: ["GLW_CLIENT_ID": provider.clientID]
        )
        #expect(listing.status == 0, "\(listing.stderr)")
        #expect(listing.stdout.contains("FIRING: 0"))
        #expect(listing.stdout.contains("CredentialRejected") && listing.stdout.contains("ProviderUnavailable"))
        #expect(listing.stdout.contains("alertmanager") && listing.stdout.contains("hook"))
    }

    @Test("one rejected run between successes is recorded but pages nobody")
    func blip() async throws {
        try await Self.running(Self.blipScenario)
    }

    static func blipScenario(
        _ provider: inout Glewlwyd,
        alertmanager: Alertmanager,
        hook: LoopbackProvider,
        work: URL
    ) async throws {
        let (configURL, metricsPort) = try await Self.configure(provider, alertmanager, hook, work, interval: "4s")
        let monitor = try Self.monitor(
            provider,
            secret: provider.clientSecret,
            config: configURL,
            work: work,
            log: "authprobe.log"
        )
        let target = ["environment": Self.environment, "client": "monitor"]
        func value(_ name: String, _ extra: [String: String] = [:]) async -> Double? {
            MetricsText.value(
                await httpGet("http://127.0.0.1:\(metricsPort)/metrics")?.body ?? "",
                name,
                target.merging(extra) { $1 }
            )
        }
        #expect(await eventually(within: .seconds(30)) { await value("authprobe_up") == 1 }, "\(monitor.log)")
        // Disabled until exactly one token attempt of the client has failed, then enabled again at once (an
        // interval is 4 s; the next attempt succeeds).
        try await provider.run("revoke-client")
        #expect(
            await eventually(within: .seconds(10)) {
                await value("authprobe_consecutive_failures", ["step": "token"]) == 1
            }
        )
        try await provider.run("revoke-client", ["--enable"])
        #expect(await value("authprobe_consecutive_failures", ["step": "token"]) == 1, "enabled within the interval")
        #expect(
            await eventually(within: .seconds(15)) {
                await value("authprobe_consecutive_failures", ["step": "token"]) == 0
            }
        )
        try await Task.sleep(for: .seconds(9))
        let rejected = await value(
            "authprobe_step_results_total",
            ["step": "token", "outcome": "credential_rejected", "scope": "credential"]
        )
        #expect(rejected == 1, "the blip is recorded")
        #expect(try await alertmanager.alerts().isEmpty, "and pages nobody")
        #expect(hook.requests.isEmpty)
        #expect(await monitor.stop() == 0)
    }
}
