import Foundation
import NIOConcurrencyHelpers

extension MonitorMetrics {
    /// The exposition text of every series at once (tests, small monitors).
    public func render() -> [UInt8] {
        var bytes: [UInt8] = []
        self.renderParts { bytes += $0 }
        return bytes
    }

    /// The exposition text part by part — authprobe's own metrics, then the states family by family — handed
    /// to `emit` as it is written, so that a scrape of thousands of targets never holds the whole text (tens of
    /// MB) in memory, let alone twice. Runs on the scraping request's task, never on the event loops that time
    /// probe requests; each slot's lock is held only to copy its state.
    public func stream(_ emit: ([UInt8]) async throws -> Void) async rethrows {
        var renderer = self.snapshot()
        try await emit(renderer.head(self))
        for part in StateRenderer.Part.allCases {
            try await emit(renderer.render(part))
        }
    }

    private func renderParts(_ emit: ([UInt8]) -> Void) {
        var renderer = self.snapshot()
        emit(renderer.head(self))
        for part in StateRenderer.Part.allCases {
            emit(renderer.render(part))
        }
    }

    private func snapshot() -> StateRenderer {
        StateRenderer(
            out: ExpositionWriter(),
            targetInfos: self.targets,
            targetBoxes: self.targetSlots,
            environmentInfos: self.environments,
            environmentBoxes: self.environmentSlots
        )
    }
}

/// Writes the state families; one instance per scrape.
struct StateRenderer {
    var out: ExpositionWriter
    let targetInfos: [TargetSlot.Info]
    let targetBoxes: [NIOLockedValueBox<TargetSlot>]
    let environmentInfos: [EnvironmentSlot.Info]
    let environmentBoxes: [NIOLockedValueBox<EnvironmentSlot>]

    /// The targets' slots, each copied under its lock as the iteration reaches it: a scrape never holds a
    /// copy of every slot at once (at 10,000 targets, tens of MB).
    var targets: LazyMapSequence<[NIOLockedValueBox<TargetSlot>], TargetSlot> {
        self.targetBoxes.lazy.map { $0.withLockedValue { $0 } }
    }

    /// The environments' slots, copied one at a time like ``targets``.
    var environments: LazyMapSequence<[NIOLockedValueBox<EnvironmentSlot>], EnvironmentSlot> {
        self.environmentBoxes.lazy.map { $0.withLockedValue { $0 } }
    }

    private typealias Entry = (labels: LabelSet, step: Step, state: StepState)

    /// Every step entry: the provider's steps per environment, then the client steps per target.
    private func entries(currentOnly: Bool) -> [Entry] {
        var entries: [Entry] = []
        for (info, slot) in zip(self.environmentInfos, self.environments) {
            for step in [Step.discovery, .jwks] {
                if let state = slot.view.steps[step], state.current || !currentOnly {
                    entries.append((info.labels, step, state))
                }
            }
        }
        for (info, slot) in zip(self.targetInfos, self.targets) {
            for step in info.steps {
                if let state = slot.state?.steps[step], state.current || !currentOnly {
                    entries.append((info.labels, step, state))
                }
            }
        }
        return entries
    }

    /// The families, in the order they are written; one part is one chunk of a streamed scrape.
    enum Part: CaseIterable {
        case status, history, counters, latency, targets, environments
    }

    /// authprobe's own metrics: the registry's (build info, scheduler) and the process's and store's.
    mutating func head(_ metrics: MonitorMetrics) -> [UInt8] {
        self.out = ExpositionWriter()
        self.out.raw(metrics.registry.emitToBuffer())
        metrics.own.render(into: &self.out)
        self.out.family("authprobe_targets", "gauge", "Configured environment×client targets.")
        self.out.sample("authprobe_targets", .empty, count: self.targetInfos.count)
        return self.out.bytes
    }

    /// Writes one part and returns its text.
    mutating func render(_ part: Part) -> [UInt8] {
        self.out = ExpositionWriter(capacity: 1 << 16)
        switch part {
        case .status: self.renderStatus()
        case .history: self.renderHistory()
        case .counters: self.renderCounters()
        case .latency: self.renderLatency()
        case .targets: self.renderTargets()
        case .environments: self.renderEnvironments()
        }
        return self.out.bytes
    }

    /// `up` and what the latest attempt of each step said.
    private mutating func renderStatus() {
        self.out.family(
            "authprobe_up",
            "gauge",
            "1 if the latest run of the environment and client succeeded and so did the latest attempt of every step, else 0."
        )
        for (info, slot) in zip(self.targetInfos, self.targets) {
            if let state = slot.state { self.out.sample("authprobe_up", info.labels, state.up ? 1 : 0) }
        }

        let current = self.entries(currentOnly: true)
        self.stepGauge(
            "authprobe_step_success",
            "1 if the latest attempt of the step succeeded, else 0. Absent while an earlier step of the latest run failed.",
            current
        ) { $0.outcome == .success ? 1 : 0 }
        self.stepGauge(
            "authprobe_step_last_duration_seconds",
            "Duration of the latest attempt of the step, from the lookup to the body's end (or the failure).",
            current
        ) { Durations.seconds($0.timings.total) }
        self.out.family(
            "authprobe_step_duration_seconds",
            "gauge",
            "Duration of the latest attempt of the step by phase; the phases add up to the last duration."
        )
        for entry in current {
            for phase in Phase.allCases {
                guard let value = entry.state.timings[phase] else { continue }
                self.out.sample(
                    "authprobe_step_duration_seconds",
                    entry.labels,
                    ["step": entry.step.rawValue, "phase": phase.rawValue],
                    Durations.seconds(value)
                )
            }
        }

    }

    /// What stays when a step is not attempted: when it last was, last succeeded, and failures since.
    private mutating func renderHistory() {
        let all = self.entries(currentOnly: false)
        self.stepGauge(
            "authprobe_step_last_attempt_timestamp_seconds",
            "Unix time of the run of the latest attempt of the step.",
            all
        ) { $0.lastAttempt.timeIntervalSince1970 }
        self.stepGauge(
            "authprobe_last_success_timestamp_seconds",
            "Unix time of the run of the latest successful attempt of the step.",
            all
        ) { $0.lastSuccess?.timeIntervalSince1970 }
        self.stepGauge("authprobe_consecutive_failures", "Failed attempts of the step since its last success.", all) {
            Double($0.consecutiveFailures)
        }
    }

    /// One gauge family with a series per step entry; `value` nil leaves the entry out.
    private mutating func stepGauge(
        _ name: String,
        _ help: String,
        _ entries: [Entry],
        _ value: (StepState) -> Double?
    ) {
        self.out.family(name, "gauge", help)
        for entry in entries {
            guard let value = value(entry.state) else { continue }
            self.out.sample(name, entry.labels, ["step": entry.step.rawValue], value)
        }
    }

    /// Results by outcome, from the plain counters: the provider's steps per environment, the client steps
    /// per target.
    private mutating func renderCounters() {
        var counted: [(labels: LabelSet, step: Step, counters: StepCounters)] = []
        for (info, slot) in zip(self.environmentInfos, self.environments) {
            for step in [Step.discovery, .jwks] {
                counted.append((info.labels, step, slot.counters[step] ?? StepCounters()))
            }
        }
        for (info, slot) in zip(self.targetInfos, self.targets) {
            for step in info.steps {
                counted.append((info.labels, step, slot.counters[step] ?? StepCounters()))
            }
        }
        self.out.family(
            "authprobe_step_results_total",
            "counter",
            "Step results by outcome and scope (who has to act: credential, provider, request, api, authprobe; "
                + "none for success)."
        )
        for entry in counted {
            // Success exists from the start at 0, so rates and ratios have a series before the first result.
            let outcomes = entry.counters.outcomes.merging([.success: 0]) { seen, _ in seen }
            for (outcome, count) in outcomes.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                self.out.sample(
                    "authprobe_step_results_total",
                    entry.labels,
                    ["step": entry.step.rawValue, "outcome": outcome.label, "scope": outcome.scope.rawValue],
                    count: count
                )
            }
        }
    }

    /// The latency histogram of the credential's requests (token, API) per target. Discovery and JWKS have
    /// their latest timings as gauges and every timing in the database, but no histogram: at thousands of
    /// environments their buckets would be most of the series.
    private mutating func renderLatency() {
        self.out.family(
            "authprobe_request_duration_seconds",
            "histogram",
            "Duration of every successful request of the step (failures are counted by outcome instead)."
        )
        for (info, slot) in zip(self.targetInfos, self.targets) {
            for step in info.steps {
                self.histogram(info.labels, step, (slot.counters[step] ?? StepCounters()).latency)
            }
        }
    }

    private mutating func histogram(_ labels: LabelSet, _ step: Step, _ histogram: LatencyHistogram) {
        let step = step.rawValue
        var cumulative = 0
        for (index, bound) in LatencyHistogram.bounds.enumerated() {
            cumulative += histogram.counts[index]
            self.out.sample(
                "authprobe_request_duration_seconds_bucket",
                labels,
                ["step": step, "le": Self.bound(bound)],
                count: cumulative
            )
        }
        self.out.sample(
            "authprobe_request_duration_seconds_bucket",
            labels,
            ["step": step, "le": "+Inf"],
            count: histogram.count
        )
        self.out.sample("authprobe_request_duration_seconds_sum", labels, ["step": step], histogram.sum)
        self.out.sample("authprobe_request_duration_seconds_count", labels, ["step": step], count: histogram.count)
    }

    /// What describes a credential: its token, its verification, its known expiry.
    private mutating func renderTargets() {
        self.out.family("authprobe_token_lifetime_seconds", "gauge", "expires_in of the latest token issued.")
        for (info, slot) in zip(self.targetInfos, self.targets) {
            if let lifetime = slot.state?.tokenLifetime {
                self.out.sample("authprobe_token_lifetime_seconds", info.labels, count: lifetime)
            }
        }
        self.out.family(
            "authprobe_token_signature_verified",
            "gauge",
            "1 if the latest JWT access token's signature was verified against the JWKS, 0 if no published key "
                + "could be used to verify it; absent for opaque tokens and while the token step is not current."
        )
        for (info, slot) in zip(self.targetInfos, self.targets) {
            if let state = slot.state, state.steps[.token]?.current == true, let verified = state.tokenVerified {
                self.out.sample("authprobe_token_signature_verified", info.labels, verified ? 1 : 0)
            }
        }
        self.out.family(
            "authprobe_credential_expiry_timestamp_seconds",
            "gauge",
            "Unix time at which the credential expires, where known (kind: secret or key from expires_at, "
                + "certificate or key from a certificate's notAfter)."
        )
        for info in self.targetInfos {
            for expiry in info.credentialExpiries {
                self.out.sample(
                    "authprobe_credential_expiry_timestamp_seconds",
                    info.labels,
                    ["kind": expiry.kind],
                    expiry.expiresAt
                )
            }
        }
    }

    /// What describes the provider, once per environment.
    private mutating func renderEnvironments() {
        var pairs:
            Zip2Sequence<[EnvironmentSlot.Info], LazyMapSequence<[NIOLockedValueBox<EnvironmentSlot>], EnvironmentSlot>>
        {
            zip(self.environmentInfos, self.environments)
        }
        self.out.family(
            "authprobe_tls_certificate_expiry_timestamp_seconds",
            "gauge",
            "Unix time at which the earliest certificate of the endpoint's verified TLS chain expires (notAfter)."
        )
        for (info, slot) in pairs {
            for step in Step.allCases {
                guard let notAfter = slot.view.tlsExpiry[step] else { continue }
                self.out.sample(
                    "authprobe_tls_certificate_expiry_timestamp_seconds",
                    info.labels,
                    ["endpoint": step.rawValue],
                    notAfter.timeIntervalSince1970
                )
            }
        }
        self.out.family("authprobe_jwks_keys", "gauge", "Number of keys in the latest JWKS fetched.")
        for (info, slot) in pairs {
            if let jwks = slot.view.jwks { self.out.sample("authprobe_jwks_keys", info.labels, count: jwks.keys) }
        }
        self.out.family(
            "authprobe_jwks_last_rotation_timestamp_seconds",
            "gauge",
            "Unix time of the run that first saw the current JWKS key set differ from the previous one."
        )
        for (info, slot) in pairs {
            if let rotation = slot.view.jwks?.lastRotation {
                self.out.sample(
                    "authprobe_jwks_last_rotation_timestamp_seconds",
                    info.labels,
                    rotation.timeIntervalSince1970
                )
            }
        }
        self.out.family(
            "authprobe_clock_skew_seconds",
            "gauge",
            "The provider's clock minus authprobe's: from the iat of the latest issued JWT, else from the Date "
                + "header of the latest response (to about 0.5 s)."
        )
        for (info, slot) in pairs {
            if let skew = slot.view.clockSkew { self.out.sample("authprobe_clock_skew_seconds", info.labels, skew) }
        }
        self.out.family(
            "authprobe_token_interval_seconds",
            "gauge",
            "Configured time between token requests (token_interval), for alert rules."
        )
        for (info, _) in pairs {
            self.out.sample("authprobe_token_interval_seconds", info.labels, info.tokenInterval)
        }
        self.out.family(
            "authprobe_conformance_violation",
            "gauge",
            "1 if the provider's latest answer broke the rule (and the rule is not allowed), else 0."
        )
        for (info, slot) in pairs {
            var rules: [ConformanceRule: Bool] = [:]
            for report in slot.view.conformance.values {
                for rule in report.checked { rules[rule] = (rules[rule] ?? false) || report.violated.contains(rule) }
            }
            for (rule, violated) in rules.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                self.out.sample(
                    "authprobe_conformance_violation",
                    info.labels,
                    ["rule": rule.rawValue],
                    violated ? 1 : 0
                )
            }
        }
    }

    /// A bucket bound as Prometheus writes it (`0.5`, `1`, `10`).
    private static func bound(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
