import AuthProbe
import AuthProbeTesting
import Foundation
import Testing

/// Exact text of the exposition: names, label sets and values are the contract dashboards and alerts use.
@Suite("Metrics")
struct MonitorMetricsTests {
    static let key = TargetKey(environment: "prod", client: "svc")
    static let target = TestTargets.target(environment: "prod")

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
                    timings: PhaseTimings(
                        processing: .milliseconds(30),
                        transfer: .milliseconds(10),
                        total: .milliseconds(40)
                    ),
                    tokenLifetime: outcome == .success ? 3600 : nil
                ),
            ]
        )
    }

    /// A run whose discovery failed: JWKS and token were not attempted.
    static func discoveryDown(at seconds: Double) -> ProbeResult {
        ProbeResult(
            target: key,
            startedAt: Date(timeIntervalSince1970: seconds),
            steps: [
                StepResult(step: .discovery, outcome: .connectRefused, timings: PhaseTimings(total: .milliseconds(1)))
            ]
        )
    }

    static func lines(_ results: [ProbeResult], targets: [ProbeTarget] = [target]) -> Set<String> {
        Set(MonitorMetrics.recording(results, targets: targets).exposition.split(separator: "\n").map(String.init))
    }

    @Test("a successful run sets every series")
    func success() {
        let metrics = MonitorMetrics(targets: [Self.target], location: "eu-west-1")
        metrics.record(Self.result(.success), state: TargetState(key: Self.key).applying(Self.result(.success)))
        let lines = Set(metrics.exposition.split(separator: "\n").map(String.init))
        let expected = [
            #"authprobe_build_info{location="eu-west-1",version="\#(AuthProbeVersion.current)"} 1.0"#,
            #"authprobe_targets 1"#,
            #"authprobe_up{environment="prod",client="svc"} 1.0"#,
            #"authprobe_step_success{environment="prod",client="svc",step="token"} 1.0"#,
            #"authprobe_step_success{environment="prod",step="discovery"} 1.0"#,
            #"authprobe_step_duration_seconds{environment="prod",step="discovery",phase="tls"} 0.003"#,
            #"authprobe_step_duration_seconds{environment="prod",client="svc",step="token",phase="processing"} 0.03"#,
            #"authprobe_step_last_duration_seconds{environment="prod",step="discovery"} 0.015"#,
            #"authprobe_step_last_duration_seconds{environment="prod",client="svc",step="token"} 0.04"#,
            #"authprobe_step_last_attempt_timestamp_seconds{environment="prod",client="svc",step="token"} 1700000000.0"#,
            #"authprobe_step_results_total{environment="prod",client="svc",step="token",outcome="success",scope="none"} 1"#,
            #"authprobe_step_results_total{environment="prod",step="jwks",outcome="success",scope="none"} 1"#,
            #"authprobe_consecutive_failures{environment="prod",client="svc",step="token"} 0.0"#,
            #"authprobe_last_success_timestamp_seconds{environment="prod",client="svc",step="token"} 1700000000.0"#,
            #"authprobe_token_lifetime_seconds{environment="prod",client="svc"} 3600"#,
            #"authprobe_jwks_keys{environment="prod"} 2"#,
            #"authprobe_token_interval_seconds{environment="prod"} 5.0"#,
            #"authprobe_request_duration_seconds_bucket{environment="prod",client="svc",step="token",le="0.05"} 1"#,
            #"authprobe_request_duration_seconds_bucket{environment="prod",client="svc",step="token",le="0.025"} 0"#,
            #"authprobe_request_duration_seconds_bucket{environment="prod",client="svc",step="token",le="2"} 1"#,
            #"authprobe_request_duration_seconds_count{environment="prod",client="svc",step="token"} 1"#,
            "# TYPE authprobe_request_duration_seconds histogram",
            "# TYPE authprobe_step_results_total counter",
            "# TYPE authprobe_scheduler_lag_seconds histogram",
            "# TYPE process_resident_memory_bytes gauge",
        ]
        for line in expected {
            #expect(lines.contains(line), "missing: \(line)")
        }
        // The phase gauge holds phases only; the total is its own metric.
        #expect(!lines.contains { $0.contains(#"phase="total""#) })
    }

    @Test("failures count up, success resets, last success stays at the last success")
    func failures() {
        var runs = [
            Self.result(.success, at: 100), Self.result(.invalidClient, at: 160), Self.result(.invalidClient, at: 220),
        ]
        var lines = Self.lines(runs)
        for line in [
            #"authprobe_up{environment="prod",client="svc"} 0.0"#,
            #"authprobe_step_success{environment="prod",client="svc",step="token"} 0.0"#,
            #"authprobe_consecutive_failures{environment="prod",client="svc",step="token"} 2.0"#,
            #"authprobe_last_success_timestamp_seconds{environment="prod",client="svc",step="token"} 100.0"#,
            #"authprobe_step_results_total{environment="prod",client="svc",step="token",outcome="invalid_client",scope="credential"} 2"#,
            #"authprobe_step_results_total{environment="prod",client="svc",step="token",outcome="success",scope="none"} 1"#,
            // Failed requests are counted by outcome, not put in the latency histogram.
            #"authprobe_request_duration_seconds_count{environment="prod",client="svc",step="token"} 1"#,
        ] {
            #expect(lines.contains(line), "missing: \(line)")
        }
        runs.append(Self.result(.success, at: 280))
        lines = Self.lines(runs)
        #expect(lines.contains(#"authprobe_consecutive_failures{environment="prod",client="svc",step="token"} 0.0"#))
        #expect(lines.contains(#"authprobe_up{environment="prod",client="svc"} 1.0"#))
    }

    @Test("while discovery fails, no token series claims success or a fresh duration")
    func notAttemptedIsNotCurrent() {
        let lines = Self.lines([
            Self.result(.success, at: 100), Self.discoveryDown(at: 160), Self.discoveryDown(at: 220),
        ])
        #expect(lines.contains(#"authprobe_up{environment="prod",client="svc"} 0.0"#))
        #expect(lines.contains(#"authprobe_step_success{environment="prod",step="discovery"} 0.0"#))
        #expect(lines.contains(#"authprobe_consecutive_failures{environment="prod",step="discovery"} 2.0"#))
        // Token and JWKS were not attempted: no success gauge, no duration, no verification...
        for family in ["step_success", "step_last_duration_seconds", "step_duration_seconds"] {
            #expect(
                !lines.contains { $0.hasPrefix("authprobe_\(family){") && $0.contains(#"step="token""#) },
                "\(family)"
            )
            #expect(
                !lines.contains { $0.hasPrefix("authprobe_\(family){") && $0.contains(#"step="jwks""#) },
                "\(family)"
            )
        }
        // ... while their history stays, with the age of the last attempt plain.
        #expect(
            lines.contains(
                #"authprobe_step_last_attempt_timestamp_seconds{environment="prod",client="svc",step="token"} 100.0"#
            )
        )
        #expect(
            lines.contains(
                #"authprobe_last_success_timestamp_seconds{environment="prod",client="svc",step="token"} 100.0"#
            )
        )
    }

    @Test("a run that skips the token keeps up at 0 while the last token attempt failed")
    func upCoversSkippedSteps() {
        var skipped = Self.result(.success, at: 160)
        skipped.steps.removeLast()  // token not due in this run
        var runs = [Self.result(.credentialRejected, at: 100), skipped]
        #expect(Self.lines(runs).contains(#"authprobe_up{environment="prod",client="svc"} 0.0"#))
        // The token's last result stays current between token_intervals.
        #expect(Self.lines(runs).contains(#"authprobe_step_success{environment="prod",client="svc",step="token"} 0.0"#))
        runs.append(Self.result(.success, at: 220))
        #expect(Self.lines(runs).contains(#"authprobe_up{environment="prod",client="svc"} 1.0"#))
    }

    @Test("a phase that did not happen is not left over from the previous run")
    func stalePhase() {
        #expect(
            Self.lines([Self.result(.success, tls: true)]).contains { $0.contains(#"step="discovery",phase="tls""#) }
        )
        let lines = Self.lines([Self.result(.success, tls: true), Self.result(.success, tls: false)])
        #expect(!lines.contains { $0.contains(#"phase="tls""#) })
    }

    @Test("every configured target has its success counters at 0 before the first result")
    func zeroCounters() {
        let lines = Self.lines([])
        #expect(
            lines.contains(
                #"authprobe_step_results_total{environment="prod",client="svc",step="token",outcome="success",scope="none"} 0"#
            )
        )
        #expect(
            lines.contains(
                #"authprobe_step_results_total{environment="prod",step="discovery",outcome="success",scope="none"} 0"#
            )
        )
        #expect(!lines.contains { $0.hasPrefix("authprobe_up{") })
    }

    @Test("restore takes the states of configured targets only")
    func restore() {
        var state = TargetState(key: Self.key)
        state.apply(Self.result(.success, at: 50))
        for time in stride(from: 60.0, through: 120, by: 10) { state.apply(Self.result(.credentialRejected, at: time)) }
        var gone = TargetState(key: TargetKey(environment: "gone", client: "old"))
        gone.apply(
            ProbeResult(target: gone.key, startedAt: Date(), steps: [StepResult(step: .discovery, outcome: .success)])
        )
        let metrics = MonitorMetrics(targets: [Self.target])
        metrics.restore([state, gone])
        let lines = Set(metrics.exposition.split(separator: "\n").map(String.init))
        for line in [
            #"authprobe_up{environment="prod",client="svc"} 0.0"#,
            #"authprobe_consecutive_failures{environment="prod",client="svc",step="token"} 7.0"#,
            #"authprobe_last_success_timestamp_seconds{environment="prod",client="svc",step="token"} 50.0"#,
            #"authprobe_step_success{environment="prod",step="discovery"} 1.0"#,
            #"authprobe_token_lifetime_seconds{environment="prod",client="svc"} 3600"#,
            #"authprobe_jwks_keys{environment="prod"} 2"#,
        ] {
            #expect(lines.contains(line), "missing: \(line)")
        }
        #expect(!lines.contains { $0.contains("gone") })
    }

    @Test("a secret's configured expiry is exported per credential")
    func credentialExpiry() {
        let target = TestTargets.target(
            environment: "prod",
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
        let other = ProbeTarget(environment: target.environment, client: target.environment.clients[1])
        let lines = Self.lines([], targets: [target, other])
        #expect(
            lines.contains(
                #"authprobe_credential_expiry_timestamp_seconds{environment="prod",client="svc",kind="secret"} 1800000000.0"#
            )
        )
        #expect(!lines.contains { $0.hasPrefix("authprobe_credential_expiry") && $0.contains(#"client="other""#) })
    }

    @Test("a healthy client costs at most 30 series; the provider's series are per environment")
    func seriesBudget() {
        func series(clients: Int) -> Int {
            let clientConfigs = (0..<clients).map { TestTargets.client(name: "c\($0)", id: "id\($0)") }
            var environment = TestTargets.environment(issuer: "https://idp.example/", clients: clientConfigs)
            environment.name = "prod"
            let targets = environment.clients.map { ProbeTarget(environment: environment, client: $0) }
            let results = targets.map { target in
                var result = Self.result(.success)
                result.target = target.key
                result.steps[2].timings = PhaseTimings(
                    dns: .zero,
                    connect: .milliseconds(1),
                    tls: .milliseconds(1),
                    processing: .milliseconds(30),
                    transfer: .milliseconds(1),
                    total: .milliseconds(33)
                )
                result.steps[2].tokenVerified = true
                result.steps[2].tlsCertificateExpiry = Date(timeIntervalSince1970: 1_900_000_000)
                return result
            }
            let text = MonitorMetrics.recording(results, targets: targets).exposition
            return text.split(separator: "\n").filter {
                $0.hasPrefix("authprobe_") && $0.contains(#"environment="prod""#)
            }.count
        }
        let one = series(clients: 1)
        let perClient = series(clients: 11) - one
        #expect(perClient / 10 <= 30, "\(perClient / 10) series per additional client")
        #expect(perClient % 10 == 0)
    }

    @Test("promtool check metrics reports nothing")
    func promtool() async throws {
        let runs = [
            Self.result(.success, at: 100), Self.result(.credentialRejected, at: 160), Self.discoveryDown(at: 220),
        ]
        let metrics = MonitorMetrics.recording(runs, targets: [Self.target])
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

    @Test("a streamed scrape comes in bounded chunks that add up to the whole text, every family once")
    func streamedChunks() async throws {
        let environments = (0..<200).map { index in
            var environment = TestTargets.environment(
                issuer: "https://idp\(index).example/",
                clients: [TestTargets.client(name: "svc", id: "id")]
            )
            environment.name = "env\(index)"
            return environment
        }
        let targets = environments.map { ProbeTarget(environment: $0, client: $0.clients[0]) }
        let results = targets.map { target in
            var result = Self.result(.success)
            result.target = target.key
            return result
        }
        let metrics = MonitorMetrics.recording(results, targets: targets)
        var chunks: [[UInt8]] = []
        await metrics.stream { chunks.append($0) }
        let whole = metrics.render()
        // The head (process figures) changes between two renderings; the state families must not.
        func states(_ bytes: some Sequence<UInt8>) -> Substring {
            let text = String(decoding: Array(bytes), as: UTF8.self)
            return text[(text.range(of: "# HELP authprobe_up ")?.lowerBound ?? text.endIndex)...]
        }
        let same = states(chunks.joined()) == states(whole) && !states(whole).isEmpty
        #expect(same, "the chunks do not add up to the rendered text")
        #expect(whole.count > 4 * (1 << 16), "\(whole.count) bytes: enough for several chunks")
        #expect(chunks.count > 4)
        // A chunk ends after the slot that filled it: at most one slot's lines beyond the chunk size.
        #expect(chunks.allSatisfy { $0.count < (1 << 16) + 8192 }, "\(chunks.map(\.count).max() ?? 0)")
        let text = String(decoding: whole, as: UTF8.self)
        let types = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }
        #expect(Set(types).count == types.count, "a family header repeated")
        #expect(text.components(separatedBy: "authprobe_up{").count - 1 == 200)
    }
}
