import AuthProbe
import AuthProbeTesting
import Foundation
import Testing

/// `authprobe run` and its signals, on the built binary: SIGHUP reloads the configuration without losing state
/// or history, refuses a broken file, picks up a rotated secret and loses no run in flight; SIGTERM and SIGQUIT
/// stop gracefully.
@Suite("authprobe run: SIGHUP reloads the configuration")
struct ReloadTests {
    /// One environment of a test configuration.
    struct Environment {
        var name: String
        var issuer: String
        var client = "monitor"
        var secretLines = "client_secret: ${RELOAD_TEST_SECRET}"
    }

    /// `interval` is the timeout too (which may not be longer).
    static func config(metricsPort: Int, database: URL, interval: String = "1s", _ environments: [Environment])
        -> String
    {
        var text = """
            # written by ReloadTests
            listen: 127.0.0.1:\(metricsPort)
            database: \(database.path)
            defaults:
              interval: \(interval)
              timeout: \(interval)
            environments:

            """
        for environment in environments {
            text += """
                  - name: \(environment.name)
                    issuer: \(environment.issuer)
                    clients:
                      - name: \(environment.client)
                        client_id: reload-test
                        \(environment.secretLines)

                """
        }
        return text
    }

    /// `authprobe run --config config` with a log in `work`.
    static func start(config: URL, work: URL, environment: [String: String] = [:]) throws -> BackgroundProcess {
        try BackgroundProcess(
            Checkout.authprobeBinary,
            ["run", "--config", config.path],
            environment: ["RELOAD_TEST_SECRET": "reload-test-secret"].merging(environment) { $1 },
            log: work.appendingPathComponent("authprobe.log")
        )
    }

    static func occurrences(of text: String, in log: String) -> Int {
        log.components(separatedBy: text).count - 1
    }

    static func storedResults(_ database: URL) async throws -> [StoredStepResult] {
        try await ResultStore.open(path: database.path).recent(limit: 100_000)
    }

    @Test("SIGHUP with a new environment: its series appear, the first one's history and state are kept")
    func addEnvironment() async throws {
        let work = try Checkout.temporaryDirectory("authprobe-reload")
        defer { try? FileManager.default.removeItem(at: work) }
        let failing = try await FakeProvider.make()
        failing.set("/token", .empty(403))
        let healthy = try await FakeProvider.make()
        try await withRunningServices(
            [failing.application(), healthy.application()],
            waitingFor: [failing.port, healthy.port]
        ) {
            let database = work.appendingPathComponent("authprobe.sqlite")
            let metricsPort = try await LoopbackPort.free()
            let configURL = work.appendingPathComponent("authprobe.yaml")
            let first = Environment(name: "first", issuer: failing.issuer)
            try Self.config(metricsPort: metricsPort, database: database, [first])
                .write(to: configURL, atomically: true, encoding: .utf8)
            let monitor = try Self.start(config: configURL, work: work)
            let metricsURL = "http://127.0.0.1:\(metricsPort)/metrics"
            let firstToken = ["environment": "first", "client": "monitor", "step": "token"]

            // The first environment's token step fails again and again.
            var failures = 0.0
            #expect(
                await eventually {
                    failures =
                        MetricsText.value(
                            await httpGet(metricsURL)?.body ?? "",
                            "authprobe_consecutive_failures",
                            firstToken
                        ) ?? 0
                    return failures >= 3
                },
                "\(monitor.log)"
            )
            let before = try await Self.storedResults(database).filter { $0.target.environment == "first" }
            #expect(!before.isEmpty)

            // A second environment is added and the monitor told to reload.
            let second = Environment(name: "second", issuer: healthy.issuer)
            try Self.config(metricsPort: metricsPort, database: database, [first, second])
                .write(to: configURL, atomically: true, encoding: .utf8)
            kill(monitor.child.pid, SIGHUP)
            #expect(
                await eventually {
                    MetricsText.value(
                        await httpGet(metricsURL)?.body ?? "",
                        "authprobe_up",
                        ["environment": "second", "client": "monitor"]
                    ) == 1
                },
                "\(monitor.log)"
            )
            #expect(monitor.child.exitStatus == nil, "the same process goes on: \(monitor.log)")
            #expect(monitor.log.contains("configuration reloaded"), "\(monitor.log)")
            #expect(Self.occurrences(of: "scheduler stopped", in: monitor.log) == 1, "the first monitor stopped")
            #expect(Self.occurrences(of: "scheduler started", in: monitor.log) == 2, "a second one started")

            // The first environment's state was restored, not restarted: the failures go on counting.
            let body = await httpGet(metricsURL)?.body ?? ""
            let after = MetricsText.value(body, "authprobe_consecutive_failures", firstToken) ?? 0
            #expect(after >= failures, "consecutive failures restored: \(body)")
            #expect(MetricsText.value(body, "authprobe_targets", [:]) == 2)
            #expect(await monitor.stop() == 0, "graceful stop after a reload: \(monitor.log)")
            // History: every result stored before the reload is still there, and the new environment's are written.
            let stored = try await Self.storedResults(database)
            let times = Set(stored.filter { $0.target.environment == "first" }.map(\.time))
            #expect(before.allSatisfy { times.contains($0.time) })
            #expect(
                stored.contains { $0.target.environment == "second" && $0.step == .token && $0.outcome == "success" }
            )
        }
    }

    @Test("SIGHUP with a broken file: the problems are logged with file and line, the old configuration goes on")
    func brokenConfigIsRefused() async throws {
        let work = try Checkout.temporaryDirectory("authprobe-reload")
        defer { try? FileManager.default.removeItem(at: work) }
        let provider = try await FakeProvider.make()
        try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            let database = work.appendingPathComponent("authprobe.sqlite")
            let metricsPort = try await LoopbackPort.free()
            let configURL = work.appendingPathComponent("authprobe.yaml")
            let good = Self.config(
                metricsPort: metricsPort,
                database: database,
                [Environment(name: "only", issuer: provider.issuer)]
            )
            try good.write(to: configURL, atomically: true, encoding: .utf8)
            let monitor = try Self.start(config: configURL, work: work)
            let metricsURL = "http://127.0.0.1:\(metricsPort)/metrics"
            func runs() async -> Double {
                MetricsText.value(await httpGet(metricsURL)?.body ?? "", "authprobe_scheduler_runs_total", [:]) ?? 0
            }
            #expect(await eventually { await runs() >= 2 }, "\(monitor.log)")

            // Line 6 gets a misspelt key; the client's secret variable is unset.
            var lines = good.components(separatedBy: "\n")
            #expect(lines[5].hasPrefix("  timeout:"))
            lines[5] = "  timeuot: 1s"
            try lines.joined(separator: "\n")
                .replacingOccurrences(of: "${RELOAD_TEST_SECRET}", with: "${RELOAD_TEST_UNSET}")
                .write(to: configURL, atomically: true, encoding: .utf8)
            kill(monitor.child.pid, SIGHUP)
            #expect(
                await eventually { monitor.log.contains("configuration reload refused") },
                "\(monitor.log)"
            )
            #expect(
                await eventually { monitor.log.contains("\(configURL.path):6: defaults.timeuot:") },
                "\(monitor.log)"
            )
            #expect(monitor.log.contains("RELOAD_TEST_UNSET"), "every problem is logged: \(monitor.log)")
            #expect(!monitor.log.contains("scheduler stopped"), "the running monitor was left alone")

            // The old configuration goes on probing and serving.
            let refusedAt = await runs()
            #expect(await eventually { await runs() >= refusedAt + 2 }, "\(monitor.log)")
            #expect(monitor.child.exitStatus == nil)
            #expect(await httpGet("http://127.0.0.1:\(metricsPort)/readyz")?.status == 200)

            // SIGQUIT stops it as gracefully as SIGTERM.
            kill(monitor.child.pid, SIGQUIT)
            #expect(await monitor.child.wait(timeout: .seconds(20)) == 0, "\(monitor.log)")
            #expect(monitor.log.contains("scheduler stopped"), "\(monitor.log)")
            #expect(!monitor.log.contains("reload-test-secret"))
        }
    }

    @Test("SIGHUP during a run: the run finishes and its result is stored before the new monitor starts")
    func reloadDuringRun() async throws {
        let work = try Checkout.temporaryDirectory("authprobe-reload")
        defer { try? FileManager.default.removeItem(at: work) }
        let provider = try await FakeProvider.make()
        provider.set(
            "/token",
            .delayed(
                .milliseconds(1500),
                then: .json(200, FakeProvider.validToken, headers: [("Cache-Control", "no-store")])
            )
        )
        try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            let database = work.appendingPathComponent("authprobe.sqlite")
            let metricsPort = try await LoopbackPort.free()
            let configURL = work.appendingPathComponent("authprobe.yaml")
            try Self.config(
                metricsPort: metricsPort,
                database: database,
                interval: "3s",
                [Environment(name: "slow", issuer: provider.issuer)]
            )
            .write(to: configURL, atomically: true, encoding: .utf8)
            let monitor = try Self.start(config: configURL, work: work)
            func tokenRequests() -> Int { provider.requests.filter { $0.path == "/token" }.count }
            func storedTokens() async throws -> Int {
                try await Self.storedResults(database).filter { $0.step == .token }.count
            }

            // A second token request is in flight (its answer takes 1.5 s): reload now.
            #expect(await eventually { tokenRequests() >= 2 }, "\(monitor.log)")
            let sent = tokenRequests()
            let storedBefore = try await storedTokens()
            kill(monitor.child.pid, SIGHUP)
            #expect(storedBefore < sent, "the run in flight has no result yet")
            #expect(await eventually { monitor.log.contains("configuration reloaded") }, "\(monitor.log)")
            // The old monitor wrote everything before the new one was built.
            let storedAfter = try await storedTokens()
            #expect(storedAfter >= sent, "token requests sent: \(sent), results stored: \(storedAfter)")
            let results = try await Self.storedResults(database).filter { $0.step == .token }
            #expect(results.allSatisfy { $0.outcome == "success" }, "\(results.map(\.outcome))")

            // At the end every token request has exactly one stored result.
            #expect(await monitor.stop() == 0, "\(monitor.log)")
            #expect(try await storedTokens() == tokenRequests())
        }
    }

    @Test("secret rotated at glewlwyd, written to client_secret_file, SIGHUP: the next run succeeds")
    func rotatedSecretFile() async throws {
        try await Glewlwyd.with { provider, work in
            let database = work.appendingPathComponent("authprobe.sqlite")
            let metricsPort = try await LoopbackPort.free()
            let configURL = work.appendingPathComponent("authprobe.yaml")
            let secretFile = work.appendingPathComponent("client-secret")
            let originalSecret = provider.clientSecret
            try originalSecret.write(to: secretFile, atomically: true, encoding: .utf8)
            let config = """
                listen: 127.0.0.1:\(metricsPort)
                database: \(database.path)
                defaults:
                  interval: 1s
                  timeout: 1s
                environments:
                  - name: glewlwyd
                    issuer: \(provider.issuer)
                    clients:
                      - name: monitor
                        client_id: \(provider.clientID)
                        client_secret_file: ${RELOAD_TEST_SECRETS}/client-secret
                        scope: \(provider.scope)
                """
            try config.write(to: configURL, atomically: true, encoding: .utf8)
            let monitor = try Self.start(config: configURL, work: work, environment: ["RELOAD_TEST_SECRETS": work.path])
            let metricsURL = "http://127.0.0.1:\(metricsPort)/metrics"
            func up() async -> Double? {
                MetricsText.value(
                    await httpGet(metricsURL)?.body ?? "",
                    "authprobe_up",
                    ["environment": "glewlwyd", "client": "monitor"]
                )
            }
            #expect(await eventually { await up() == 1 }, "\(monitor.log)")

            // The secret is rotated at the provider: the credential the monitor holds is rejected.
            try await provider.run("rotate-secret")
            let rotatedSecret = provider.clientSecret
            #expect(rotatedSecret != originalSecret)
            #expect(await eventually { await up() == 0 }, "\(monitor.log)")

            // The new secret is written to the file and the monitor reloaded: it works again.
            try rotatedSecret.write(to: secretFile, atomically: true, encoding: .utf8)
            kill(monitor.child.pid, SIGHUP)
            #expect(await eventually { monitor.log.contains("configuration reloaded") }, "\(monitor.log)")
            #expect(await eventually { await up() == 1 }, "after the reload: \(monitor.log)")
            #expect(await monitor.stop() == 0, "\(monitor.log)")
            // Newest first: a success after the rejections, which are kept.
            let rows = try await Self.storedResults(database).filter { $0.step == .token }
            #expect(rows.first?.outcome == "success", "\(rows.map(\.outcome))")
            #expect(rows.contains { $0.outcome == "credential_rejected" }, "the failures are kept")
            for secret in [originalSecret, rotatedSecret] {
                #expect(!monitor.log.contains(secret))
            }
        }
    }
}
