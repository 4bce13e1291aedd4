import AuthProbe
import Foundation
import Testing

/// Exact text of the exposition: names, label sets and values are the contract dashboards and alerts use.
@Suite("Metrics")
struct MonitorMetricsTests {
    static let key = TargetKey(environment: "prod", client: "svc")

    static func result(_ outcome: Outcome, at seconds: Double = 1_700_000_000, tls: Bool = true) -> ProbeResult {
        ProbeResult(
            target: key,
            startedAt: Date(timeIntervalSince1970: seconds),
            steps: [
                StepResult(
                    step: .discovery,
                    outcome: .success,
                    timings: PhaseTimings(
                        dns: .milliseconds(1),
                        connect: .milliseconds(2),
                        tls: tls ? .milliseconds(3) : nil,
                        processing: .milliseconds(4),
                        transfer: .milliseconds(5),
                        total: .milliseconds(15)
                    )
                ),
                StepResult(
                    step: .jwks,
                    outcome: .success,
                    timings: PhaseTimings(total: .milliseconds(20)),
                    jwksKeys: 2
                ),
                StepResult(
                    step: .token,
                    outcome: outcome,
                    timings: PhaseTimings(total: .milliseconds(40)),
                    tokenLifetime: outcome == .success ? 3600 : nil
                ),
            ]
        )
    }

    static func lines(_ metrics: MonitorMetrics) -> Set<String> {
        Set(String(decoding: metrics.render(), as: UTF8.self).split(separator: "\n").map(String.init))
    }

    @Test("a successful run sets every series")
    func success() {
        let metrics = MonitorMetrics(location: "eu-west-1")
        metrics.record(Self.result(.success))
        let lines = Self.lines(metrics)
        let expected = [
            #"authprobe_build_info{location="eu-west-1",version="\#(AuthProbeVersion.current)"} 1.0"#,
            #"authprobe_up{client="svc",environment="prod"} 1.0"#,
            #"authprobe_step_success{client="svc",environment="prod",step="token"} 1.0"#,
            #"authprobe_step_duration_seconds{client="svc",environment="prod",phase="tls",step="discovery"} 0.003"#,
            #"authprobe_step_duration_seconds{client="svc",environment="prod",phase="total",step="discovery"} 0.015"#,
            #"authprobe_step_duration_seconds{client="svc",environment="prod",phase="total",step="token"} 0.04"#,
            #"authprobe_step_results_total{client="svc",environment="prod",outcome="success",step="token"} 1"#,
            #"authprobe_consecutive_failures{client="svc",environment="prod",step="token"} 0.0"#,
            #"authprobe_last_success_timestamp_seconds{client="svc",environment="prod",step="token"} 1700000000.0"#,
            #"authprobe_token_lifetime_seconds{client="svc",environment="prod"} 3600.0"#,
            #"authprobe_jwks_keys{environment="prod"} 2.0"#,
            #"authprobe_request_duration_seconds_bucket{client="svc",environment="prod",step="token",le="0.05"} 1"#,
            #"authprobe_request_duration_seconds_bucket{client="svc",environment="prod",step="token",le="0.025"} 0"#,
            #"authprobe_request_duration_seconds_count{client="svc",environment="prod",step="token"} 1"#,
            "# TYPE authprobe_request_duration_seconds histogram",
            "# TYPE authprobe_step_results_total counter",
            "# HELP authprobe_up 1 if the latest result of every step of the environment and client succeeded, else 0.",
        ]
        for line in expected {
            #expect(lines.contains(line), "missing: \(line)")
        }
    }

    @Test("failures count up, success resets, last success stays at the last success")
    func failures() {
        let metrics = MonitorMetrics()
        metrics.record(Self.result(.success, at: 100))
        metrics.record(Self.result(.invalidClient, at: 160))
        metrics.record(Self.result(.invalidClient, at: 220))
        var lines = Self.lines(metrics)
        #expect(lines.contains(#"authprobe_up{client="svc",environment="prod"} 0.0"#))
        #expect(lines.contains(#"authprobe_step_success{client="svc",environment="prod",step="token"} 0.0"#))
        #expect(lines.contains(#"authprobe_consecutive_failures{client="svc",environment="prod",step="token"} 2.0"#))
        #expect(
            lines.contains(
                #"authprobe_last_success_timestamp_seconds{client="svc",environment="prod",step="token"} 100.0"#
            )
        )
        #expect(
            lines.contains(
                #"authprobe_step_results_total{client="svc",environment="prod",outcome="invalid_client",step="token"} 2"#
            )
        )
        metrics.record(Self.result(.success, at: 280))
        lines = Self.lines(metrics)
        #expect(lines.contains(#"authprobe_consecutive_failures{client="svc",environment="prod",step="token"} 0.0"#))
        #expect(lines.contains(#"authprobe_up{client="svc",environment="prod"} 1.0"#))
    }

    @Test("a run that skips the token keeps up at 0 while the last token attempt failed")
    func upCoversSkippedSteps() {
        let metrics = MonitorMetrics()
        metrics.record(Self.result(.credentialRejected, at: 100))
        var skipped = Self.result(.success, at: 160)
        skipped.steps.removeLast()  // token not due in this run
        metrics.record(skipped)
        #expect(Self.lines(metrics).contains(#"authprobe_up{client="svc",environment="prod"} 0.0"#))
        metrics.record(Self.result(.success, at: 220))
        #expect(Self.lines(metrics).contains(#"authprobe_up{client="svc",environment="prod"} 1.0"#))
    }

    @Test("a phase that did not happen is not left over from the previous run")
    func stalePhase() {
        let metrics = MonitorMetrics()
        metrics.record(Self.result(.success, tls: true))
        #expect(Self.lines(metrics).contains { $0.contains(#"phase="tls",step="discovery""#) })
        metrics.record(Self.result(.success, tls: false))
        #expect(!Self.lines(metrics).contains { $0.contains(#"phase="tls""#) })
    }

    @Test("restore describes history for configured targets only")
    func restore() {
        let metrics = MonitorMetrics()
        var history = StoreHistory()
        history.steps = [
            StepHistory(
                target: Self.key,
                step: .token,
                lastOutcome: .credentialRejected,
                lastSuccess: Date(timeIntervalSince1970: 50),
                consecutiveFailures: 7
            ),
            StepHistory(
                target: Self.key,
                step: .discovery,
                lastOutcome: .success,
                lastSuccess: nil,
                consecutiveFailures: 0
            ),
            StepHistory(
                target: TargetKey(environment: "gone", client: "old"),
                step: .token,
                lastOutcome: .success,
                lastSuccess: nil,
                consecutiveFailures: 0
            ),
        ]
        history.tokenLifetimes = [Self.key: 300]
        history.jwksKeys = ["prod": 4, "gone": 1]
        let environment = EnvironmentConfig(
            name: "prod",
            issuer: "https://idp.example/",
            clients: [ClientConfig(name: "svc", clientID: "id", secret: Secret("s"))]
        )
        metrics.restore(history, targets: [ProbeTarget(environment: environment, client: environment.clients[0])])
        let lines = Self.lines(metrics)
        #expect(lines.contains(#"authprobe_up{client="svc",environment="prod"} 0.0"#))
        #expect(lines.contains(#"authprobe_consecutive_failures{client="svc",environment="prod",step="token"} 7.0"#))
        #expect(
            lines.contains(
                #"authprobe_last_success_timestamp_seconds{client="svc",environment="prod",step="token"} 50.0"#
            )
        )
        #expect(lines.contains(#"authprobe_step_success{client="svc",environment="prod",step="discovery"} 1.0"#))
        #expect(lines.contains(#"authprobe_token_lifetime_seconds{client="svc",environment="prod"} 300.0"#))
        #expect(lines.contains(#"authprobe_jwks_keys{environment="prod"} 4.0"#))
        #expect(!lines.contains { $0.contains("gone") })
    }

    @Test("a secret's configured expiry is exported per credential")
    func credentialExpiry() {
        let metrics = MonitorMetrics()
        let environment = EnvironmentConfig(
            name: "prod",
            issuer: "https://idp.example/",
            clients: [
                ClientConfig(
                    name: "svc",
                    clientID: "id",
                    secret: Secret("s"),
                    expiresAt: Date(timeIntervalSince1970: 1_800_000_000)
                ),
                ClientConfig(name: "other", clientID: "id2", secret: Secret("s")),
            ]
        )
        metrics.describeCredentials(environment.clients.map { ProbeTarget(environment: environment, client: $0) })
        let lines = Self.lines(metrics)
        #expect(
            lines.contains(
                #"authprobe_credential_expiry_timestamp_seconds{client="svc",environment="prod",kind="secret"} 1800000000.0"#
            )
        )
        #expect(!lines.contains { $0.contains(#"client="other""#) })
    }

    @Test("promtool check metrics reports nothing")
    func promtool() async throws {
        let metrics = MonitorMetrics(location: "lab")
        metrics.record(Self.result(.success))
        metrics.record(Self.result(.credentialRejected))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(metrics.render()).write(to: file)
        let output = try await runCommand(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "promtool check metrics < '\(file.path)'"]
        )
        #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
        #expect(output.stdout.isEmpty && output.stderr.isEmpty, "\(output.stdout)\(output.stderr)")
    }
}
