import AuthProbe
import Foundation
import Testing

/// authprobe end to end against a real glewlwyd provider, the real `authprobe` binary, SQLite on disk,
/// promtool and a real Prometheus: the judged scenarios of the first slice, in the order an operator meets them.
@Suite("End to end against glewlwyd", .serialized)
struct GlewlwydIntegrationTests {
    static let environment = "glewlwyd"
    static let client = "monitor"
    static let target = ["environment": environment, "client": client]

    static func config(_ provider: Glewlwyd, metricsPort: Int, database: URL) -> String {
        """
        # written by GlewlwydIntegrationTests
        listen: 127.0.0.1:\(metricsPort)
        database: \(database.path)
        defaults:
          interval: 1s
          timeout: 1s
        environments:
          - name: \(self.environment)
            issuer: \(provider.issuer)
            clients:
              - name: \(self.client)
                client_id: ${GLW_CLIENT_ID}
                client_secret: ${GLW_CLIENT_SECRET}
                scope: \(provider.scope)
        """
    }

    @Test("success, revocation, token lifetime, outage, rotation, restart, Prometheus and secret hygiene")
    func lifecycle() async throws {
        try await Glewlwyd.with { provider, work in try await Self.scenario(&provider, work: work) }
    }

    static func scenario(_ provider: inout Glewlwyd, work: URL) async throws {
        let database = work.appendingPathComponent("authprobe.sqlite")
        let metricsPort = try await LoopbackPort.free()
        let configURL = work.appendingPathComponent("authprobe.yaml")
        try Self.config(provider, metricsPort: metricsPort, database: database)
            .write(to: configURL, atomically: true, encoding: .utf8)
        let originalSecret = provider.clientSecret
        #expect(originalSecret.count == 48)
        let metricsURL = "http://127.0.0.1:\(metricsPort)/metrics"
        var scraped: [String] = []
        func scrape() async -> String {
            let body = await httpGet(metricsURL)?.body ?? ""
            scraped.append(body)
            return body
        }
        func value(_ name: String, _ extra: [String: String] = [:]) async -> Double? {
            MetricsText.value(await scrape(), name, Self.target.merging(extra) { $1 })
        }

        /// `authprobe run` with the given secret, logging at debug level to `log`.
        func startMonitor(secret: String, log: String) throws -> BackgroundProcess {
            try BackgroundProcess(
                Checkout.authprobeBinary,
                ["run", "--config", configURL.path, "--log-level", "debug"],
                environment: ["GLW_CLIENT_ID": provider.clientID, "GLW_CLIENT_SECRET": secret],
                log: work.appendingPathComponent(log)
            )
        }

        // 1. A working credential: success, with glewlwyd's real expires_in.
        var monitor = try startMonitor(secret: originalSecret, log: "authprobe-1.log")
        #expect(await eventually { await value("authprobe_up") == 1 }, "first run succeeds: \(monitor.log)")
        #expect(await value("authprobe_token_lifetime_seconds") == 3600)
        #expect(await value("authprobe_jwks_keys", ["client": ""]) == nil)
        #expect(MetricsText.value(await scrape(), "authprobe_jwks_keys", ["environment": Self.environment]) == 1)
        let successBody = await scrape()
        #expect(successBody.contains(#"authprobe_build_info{location="",version="\#(AuthProbeVersion.current)"} 1"#))
        for phase in ["connect", "processing", "transfer"] {
            let duration = MetricsText.value(
                successBody,
                "authprobe_step_duration_seconds",
                Self.target.merging(["step": "token", "phase": phase]) { $1 }
            )
            #expect(duration != nil && duration! > 0, "token phase \(phase)")
        }
        let tokenDuration = MetricsText.value(
            successBody,
            "authprobe_step_last_duration_seconds",
            Self.target.merging(["step": "token"]) { $1 }
        )
        #expect(tokenDuration != nil && tokenDuration! > 0, "token duration")

        // glewlwyd's known deviations are reported as conformance information, not failures.
        let violation = { (rule: String) in
            MetricsText.value(
                successBody,
                "authprobe_conformance_violation",
                ["environment": Self.environment, "rule": rule]
            )
        }
        #expect(violation("grant_type_advertised") == 1, "discovery omits client_credentials")
        #expect(violation("endpoints_https") == 1, "plain http on loopback")
        #expect(violation("token_cache_control_no_store") == 0)
        #expect(violation("token_type_bearer") == 0, "lowercase bearer is conformant")
        #expect(violation("token_expires_in_numeric") == 0)

        // 2. promtool finds nothing to complain about in a real scrape.
        let scrapeFile = work.appendingPathComponent("scrape.txt")
        try successBody.write(to: scrapeFile, atomically: true, encoding: .utf8)
        let lint = try await runCommand(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "promtool check metrics < '\(scrapeFile.path)'"]
        )
        #expect(lint.status == 0, "promtool: \(lint.stdout) \(lint.stderr)")
        #expect(lint.stdout.isEmpty && lint.stderr.isEmpty, "promtool: \(lint.stdout) \(lint.stderr)")

        // 3. A real Prometheus scrapes authprobe and answers authprobe_up == 1.
        try await Self.checkPrometheus(scraping: metricsPort, work: work)

        // 4. Client disabled at the provider: credential_rejected on the next run, up 0.
        try await provider.run("revoke-client")
        #expect(
            await eventually {
                await value(
                    "authprobe_step_results_total",
                    ["step": "token", "outcome": "credential_rejected", "scope": "credential"]
                ) ?? 0
                    >= 1
            }
        )
        #expect(await eventually { await value("authprobe_up") == 0 })
        #expect(
            MetricsText.value(
                await scrape(),
                "authprobe_step_success",
                ["environment": Self.environment, "step": "discovery"]
            ) == 1,
            "the provider itself is fine"
        )
        try await provider.run("revoke-client", ["--enable"])
        #expect(await eventually { await value("authprobe_up") == 1 })

        // 5. A shorter token lifetime shows at once.
        try await provider.run("set-token-lifetime", ["60"])
        #expect(await eventually { await value("authprobe_token_lifetime_seconds") == 60 })

        // 6. Provider stopped: connect_refused, and recovery when it is back.
        try await provider.run("stop")
        let refused = [
            "environment": Self.environment, "step": "discovery", "outcome": "connect_refused", "scope": "provider",
        ]
        #expect(
            await eventually { MetricsText.value(await scrape(), "authprobe_step_results_total", refused) ?? 0 >= 1 }
        )
        #expect(await value("authprobe_up") == 0)
        // While discovery fails, JWKS and token are not attempted: nothing claims they succeed now.
        let down = await scrape()
        for step in ["jwks", "token"] {
            for family in ["authprobe_step_success", "authprobe_step_last_duration_seconds"] {
                let labels =
                    step == "token"
                    ? Self.target.merging(["step": step]) { $1 } : ["environment": Self.environment, "step": step]
                #expect(MetricsText.value(down, family, labels) == nil, "\(family) \(step) while discovery fails")
            }
        }
        #expect(MetricsText.value(down, "authprobe_token_signature_verified", Self.target) == nil)
        try await provider.run("start")
        #expect(await eventually { await value("authprobe_up") == 1 })

        // 7. Secret rotated: the old secret is rejected...
        let rejectedBefore =
            await value(
                "authprobe_step_results_total",
                ["step": "token", "outcome": "credential_rejected", "scope": "credential"]
            ) ?? 0
        try await provider.run("rotate-secret")
        let rotatedSecret = provider.clientSecret
        #expect(rotatedSecret != originalSecret && rotatedSecret.count == 48)
        #expect(
            await eventually {
                await value(
                    "authprobe_step_results_total",
                    ["step": "token", "outcome": "credential_rejected", "scope": "credential"]
                ) ?? 0
                    > rejectedBefore
            }
        )
        #expect(await eventually { await value("authprobe_up") == 0 })
        let failuresBeforeRestart = await value("authprobe_consecutive_failures", ["step": "token"]) ?? 0
        #expect(failuresBeforeRestart >= 1)

        // ...SIGTERM stops the monitor cleanly...
        #expect(await monitor.stop() == 0, "graceful stop: \(monitor.log)")
        let firstLog = monitor.log
        #expect(firstLog.contains("scheduler stopped"))

        // ...and after a restart with the new secret the credential works again.
        monitor = try startMonitor(secret: rotatedSecret, log: "authprobe-2.log")
        #expect(await eventually { await value("authprobe_up") == 1 }, "after rotation: \(monitor.log)")
        #expect(await value("authprobe_token_lifetime_seconds") == 60)
        #expect(await monitor.stop() == 0)

        // 8. `authprobe probe` with the revoked (old) secret: a readable table and a non-zero exit.
        let probe = try await runCommand(
            Checkout.authprobeBinary,
            ["probe", "--config", configURL.path],
            environment: ["GLW_CLIENT_ID": provider.clientID, "GLW_CLIENT_SECRET": originalSecret]
        )
        #expect(probe.status == 1)
        #expect(probe.stdout.contains("credential_rejected"), "\(probe.stdout)")
        #expect(probe.stdout.contains("HTTP 403 without an OAuth error body"), "\(probe.stdout)")

        // 9. No secret anywhere: logs, SQLite bytes, /metrics bodies, error messages.
        let stored = try [database.path, database.path + "-wal"].compactMap { path -> Data? in
            FileManager.default.fileExists(atPath: path) ? try Data(contentsOf: URL(fileURLWithPath: path)) : nil
        }
        let rows = try await ResultStore.open(path: database.path).recent(limit: 10_000)
        #expect(rows.contains { $0.outcome == "credential_rejected" })
        #expect(rows.contains { $0.outcome == "connect_refused" })
        let literal = work.appendingPathComponent("literal.yaml")
        try Self.config(provider, metricsPort: metricsPort, database: database)
            .replacingOccurrences(of: "${GLW_CLIENT_SECRET}", with: originalSecret)
            .write(to: literal, atomically: true, encoding: .utf8)
        let checkLiteral = try await runCommand(Checkout.authprobeBinary, ["check-config", "--config", literal.path])
        #expect(checkLiteral.status != 0)
        #expect(checkLiteral.stderr.contains("literal secrets are not accepted"), "\(checkLiteral.stderr)")
        for secret in [originalSecret, rotatedSecret] {
            #expect(!firstLog.contains(secret), "log of the first run")
            #expect(!monitor.log.contains(secret), "log of the second run")
            for data in stored {
                #expect(data.range(of: Data(secret.utf8)) == nil, "SQLite file bytes")
            }
            #expect(!scraped.contains { $0.contains(secret) }, "/metrics bodies")
            #expect(!probe.stdout.contains(secret) && !probe.stderr.contains(secret), "probe output")
            #expect(!checkLiteral.stderr.contains(secret) && !checkLiteral.stdout.contains(secret), "config error")
            #expect(!rows.contains { $0.detail.contains(secret) }, "stored details")
        }
        #expect(firstLog.contains("credential_rejected"), "the log names the outcome")
    }

    /// Starts Prometheus on loopback scraping authprobe every second and waits for `authprobe_up == 1`.
    static func checkPrometheus(scraping metricsPort: Int, work: URL) async throws {
        let port = try await LoopbackPort.free()
        let config = work.appendingPathComponent("prometheus.yml")
        try """
        global:
          scrape_interval: 1s
          evaluation_interval: 1s
        scrape_configs:
          - job_name: authprobe
            static_configs:
              - targets: ["127.0.0.1:\(metricsPort)"]
        """.write(to: config, atomically: true, encoding: .utf8)
        let prometheus = try BackgroundProcess(
            URL(fileURLWithPath: "/usr/bin/prometheus"),
            [
                "--config.file=\(config.path)",
                "--storage.tsdb.path=\(work.appendingPathComponent("tsdb").path)",
                "--web.listen-address=127.0.0.1:\(port)",
            ],
            log: work.appendingPathComponent("prometheus.log")
        )
        let query = "http://127.0.0.1:\(port)/api/v1/query?query=authprobe_up%3D%3D1"
        let answered = await eventually(within: .seconds(60)) {
            guard let (status, body) = await httpGet(query), status == 200,
                let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]]
            else { return false }
            return result.contains { ($0["metric"] as? [String: String])?["client"] == Self.client }
        }
        #expect(answered, "Prometheus answers authprobe_up == 1: \(prometheus.log.suffix(3000))")
        await prometheus.stop()
    }
}
