import Foundation
import NIOConcurrencyHelpers

extension MonitorMetrics {
    /// The exposition text of every series at once (tests, small monitors).
    public func render() -> [UInt8] {
        var out = ExpositionWriter()
        out.raw(self.head())
        var cursor = StateRenderer.Cursor()
        while self.renderer.fill(&out, from: &cursor, upTo: .max) {}
        return out.bytes
    }

    /// The exposition text in chunks of about ``chunkBytes``, handed to `emit` as they are written: a scrape of
    /// thousands of targets (tens of MB of text) never holds more than one chunk. Runs on the scraping
    /// request's task, never on the event loops that time probe requests; each slot's lock is held only while
    /// its few lines are written.
    public func stream(_ emit: ([UInt8]) async throws -> Void) async rethrows {
        try await emit(self.head())
        var out = ExpositionWriter(capacity: Self.chunkBytes + 4096)
        var cursor = StateRenderer.Cursor()
        while self.renderer.fill(&out, from: &cursor, upTo: Self.chunkBytes) {
            try await emit(out.take())
        }
        if !out.bytes.isEmpty { try await emit(out.take()) }
    }

    /// The size of a streamed scrape's chunks.
    static let chunkBytes = 1 << 16

    /// authprobe's own metrics: the registry's (build info, scheduler) and the process's and store's.
    private func head() -> [UInt8] {
        var out = ExpositionWriter()
        out.raw(self.registry.emitToBuffer())
        self.own.render(into: &out)
        out.family("authprobe_targets", "gauge", "Configured environment×client targets.")
        out.sample("authprobe_targets", .empty, count: self.targets.count)
        return out.bytes
    }

    private var renderer: StateRenderer {
        StateRenderer(
            targetInfos: self.targets,
            targetBoxes: self.targetSlots,
            environmentInfos: self.environments,
            environmentBoxes: self.environmentSlots
        )
    }
}

/// Writes the state families, one family after another, each from every environment's slot and then every
/// target's slot.
struct StateRenderer {
    let targetInfos: [TargetSlot.Info]
    let targetBoxes: [NIOLockedValueBox<TargetSlot>]
    let environmentInfos: [EnvironmentSlot.Info]
    let environmentBoxes: [NIOLockedValueBox<EnvironmentSlot>]

    /// Where a chunked rendering stands: which family, and which slot of it comes next.
    struct Cursor {
        var family = 0
        var headerWritten = false
        var inTargets = false
        var position = 0
    }

    /// Writes families from `cursor` on until `out` holds at least `limit` bytes; false when every family
    /// is written.
    func fill(_ out: inout ExpositionWriter, from cursor: inout Cursor, upTo limit: Int) -> Bool {
        while cursor.family < Self.families.count {
            let family = Self.families[cursor.family]
            if !cursor.headerWritten {
                out.family(family.name, family.type, family.help)
                cursor.headerWritten = true
            }
            if !cursor.inTargets, let write = family.environment {
                while cursor.position < self.environmentInfos.count {
                    let info = self.environmentInfos[cursor.position]
                    self.environmentBoxes[cursor.position].withLockedValue { write(&out, info, $0) }
                    cursor.position += 1
                    if out.bytes.count >= limit { return true }
                }
            }
            if !cursor.inTargets {
                cursor.inTargets = true
                cursor.position = 0
            }
            if let write = family.target {
                while cursor.position < self.targetInfos.count {
                    let info = self.targetInfos[cursor.position]
                    self.targetBoxes[cursor.position].withLockedValue { write(&out, info, $0) }
                    cursor.position += 1
                    if out.bytes.count >= limit { return true }
                }
            }
            cursor = Cursor(family: cursor.family + 1)
        }
        return false
    }

    /// One metric family: its header, and the samples each environment's and each target's slot adds.
    struct Family: Sendable {
        let name: String
        let type: String
        let help: String
        var environment: (@Sendable (inout ExpositionWriter, EnvironmentSlot.Info, EnvironmentSlot) -> Void)? = nil
        var target: (@Sendable (inout ExpositionWriter, TargetSlot.Info, TargetSlot) -> Void)? = nil
    }

    /// Every family, in the order written: `up` and what the latest attempt of each step said; what stays when
    /// a step is not attempted; results by outcome; latency; what describes a credential; what describes the
    /// provider.
    static let families: [Family] = [
        Family(
            name: "authprobe_up",
            type: "gauge",
            help: "1 if the latest run of the environment and client succeeded and so did the latest attempt of "
                + "every step, else 0.",
            target: { out, info, slot in
                if let state = slot.state { out.sample("authprobe_up", info.labels, state.up ? 1 : 0) }
            }
        ),
        Self.stepGauge(
            "authprobe_step_success",
            "1 if the latest attempt of the step succeeded, else 0. Absent while an earlier step of the latest run "
                + "failed.",
            currentOnly: true
        ) { $0.outcome == .success ? 1 : 0 },
        Self.stepGauge(
            "authprobe_step_last_duration_seconds",
            "Duration of the latest attempt of the step, from the lookup to the body's end (or the failure).",
            currentOnly: true
        ) { Durations.seconds($0.timings.total) },
        Self.stepFamily(
            "authprobe_step_duration_seconds",
            "gauge",
            "Duration of the latest attempt of the step by phase; the phases add up to the last duration.",
            currentOnly: true
        ) { out, labels, step, state in
            for phase in Phase.allCases {
                guard let value = state.timings[phase] else { continue }
                out.sample(
                    "authprobe_step_duration_seconds",
                    labels,
                    ["step": step.rawValue, "phase": phase.rawValue],
                    Durations.seconds(value)
                )
            }
        },
        Self.stepGauge(
            "authprobe_step_last_attempt_timestamp_seconds",
            "Unix time of the run of the latest attempt of the step.",
            currentOnly: false
        ) { $0.lastAttempt.timeIntervalSince1970 },
        Self.stepGauge(
            "authprobe_last_success_timestamp_seconds",
            "Unix time of the run of the latest successful attempt of the step.",
            currentOnly: false
        ) { $0.lastSuccess?.timeIntervalSince1970 },
        Self.stepGauge(
            "authprobe_consecutive_failures",
            "Failed attempts of the step since its last success.",
            currentOnly: false
        ) { Double($0.consecutiveFailures) },
        Family(
            name: "authprobe_step_results_total",
            type: "counter",
            help: "Step results by outcome and scope (who has to act: credential, provider, request, api, authprobe; "
                + "none for success).",
            environment: { out, info, slot in
                for step in [Step.discovery, .jwks] { Self.counters(&out, info.labels, step, slot.counters[step]) }
            },
            target: { out, info, slot in
                for step in info.steps { Self.counters(&out, info.labels, step, slot.counters[step]) }
            }
        ),
        // The latency histogram of the credential's requests (token, API) per target. Discovery and JWKS have
        // their latest timings as gauges and every timing in the database, but no histogram: at thousands of
        // environments their buckets would be most of the series.
        Family(
            name: "authprobe_request_duration_seconds",
            type: "histogram",
            help: "Duration of every successful request of the step (failures are counted by outcome instead).",
            target: { out, info, slot in
                for step in info.steps {
                    Self.histogram(&out, info.labels, step, (slot.counters[step] ?? StepCounters()).latency)
                }
            }
        ),
        Family(
            name: "authprobe_token_lifetime_seconds",
            type: "gauge",
            help: "expires_in of the latest token issued.",
            target: { out, info, slot in
                if let lifetime = slot.state?.tokenLifetime {
                    out.sample("authprobe_token_lifetime_seconds", info.labels, count: lifetime)
                }
            }
        ),
        Family(
            name: "authprobe_token_signature_verified",
            type: "gauge",
            help: "1 if the latest JWT access token's signature was verified against the JWKS, 0 if no published "
                + "key could be used to verify it; absent for opaque tokens and while the token step is not current.",
            target: { out, info, slot in
                if let state = slot.state, state.steps[.token]?.current == true, let verified = state.tokenVerified {
                    out.sample("authprobe_token_signature_verified", info.labels, verified ? 1 : 0)
                }
            }
        ),
        Family(
            name: "authprobe_credential_expiry_timestamp_seconds",
            type: "gauge",
            help: "Unix time at which the credential expires, where known (kind: secret or key from expires_at, "
                + "certificate or key from a certificate's notAfter).",
            target: { out, info, _ in
                for expiry in info.credentialExpiries {
                    out.sample(
                        "authprobe_credential_expiry_timestamp_seconds",
                        info.labels,
                        ["kind": expiry.kind],
                        expiry.expiresAt
                    )
                }
            }
        ),
        Family(
            name: "authprobe_tls_certificate_expiry_timestamp_seconds",
            type: "gauge",
            help: "Unix time at which the earliest certificate of the endpoint's verified TLS chain expires "
                + "(notAfter).",
            environment: { out, info, slot in
                for step in Step.allCases {
                    guard let notAfter = slot.view.tlsExpiry[step] else { continue }
                    out.sample(
                        "authprobe_tls_certificate_expiry_timestamp_seconds",
                        info.labels,
                        ["endpoint": step.rawValue],
                        notAfter.timeIntervalSince1970
                    )
                }
            }
        ),
        Family(
            name: "authprobe_jwks_keys",
            type: "gauge",
            help: "Number of keys in the latest JWKS fetched.",
            environment: { out, info, slot in
                if let jwks = slot.view.jwks { out.sample("authprobe_jwks_keys", info.labels, count: jwks.keys) }
            }
        ),
        Family(
            name: "authprobe_jwks_last_rotation_timestamp_seconds",
            type: "gauge",
            help: "Unix time of the run that first saw the current JWKS key set differ from the previous one.",
            environment: { out, info, slot in
                if let rotation = slot.view.jwks?.lastRotation {
                    out.sample(
                        "authprobe_jwks_last_rotation_timestamp_seconds",
                        info.labels,
                        rotation.timeIntervalSince1970
                    )
                }
            }
        ),
        Family(
            name: "authprobe_clock_skew_seconds",
            type: "gauge",
            help: "The provider's clock minus authprobe's: from the iat of the latest issued JWT, else from the Date "
                + "header of the latest response (to about 0.5 s).",
            environment: { out, info, slot in
                if let skew = slot.view.clockSkew { out.sample("authprobe_clock_skew_seconds", info.labels, skew) }
            }
        ),
        Family(
            name: "authprobe_token_interval_seconds",
            type: "gauge",
            help: "Configured time between token requests (token_interval), for dashboards and rules that need the "
                + "cadence.",
            environment: { out, info, _ in
                out.sample("authprobe_token_interval_seconds", info.labels, info.tokenInterval)
            }
        ),
        Family(
            name: "authprobe_conformance_violation",
            type: "gauge",
            help: "1 if the provider's latest answer broke the rule (and the rule is not allowed), else 0.",
            environment: { out, info, slot in
                var rules: [ConformanceRule: Bool] = [:]
                for report in slot.view.conformance.values {
                    for rule in report.checked {
                        rules[rule] = (rules[rule] ?? false) || report.violated.contains(rule)
                    }
                }
                for (rule, violated) in rules.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                    out.sample(
                        "authprobe_conformance_violation",
                        info.labels,
                        ["rule": rule.rawValue],
                        violated ? 1 : 0
                    )
                }
            }
        ),
    ]

    /// A family with samples per step entry: the provider's steps per environment, then the client steps per
    /// target; `currentOnly` leaves out steps an earlier failed step of the latest run kept from being attempted.
    private static func stepFamily(
        _ name: String,
        _ type: String,
        _ help: String,
        currentOnly: Bool,
        _ write: @escaping @Sendable (inout ExpositionWriter, LabelSet, Step, StepState) -> Void
    ) -> Family {
        Family(
            name: name,
            type: type,
            help: help,
            environment: { out, info, slot in
                for step in [Step.discovery, .jwks] {
                    if let state = slot.view.steps[step], state.current || !currentOnly {
                        write(&out, info.labels, step, state)
                    }
                }
            },
            target: { out, info, slot in
                for step in info.steps {
                    if let state = slot.state?.steps[step], state.current || !currentOnly {
                        write(&out, info.labels, step, state)
                    }
                }
            }
        )
    }

    /// One gauge family with a series per step entry; `value` nil leaves the entry out.
    private static func stepGauge(
        _ name: String,
        _ help: String,
        currentOnly: Bool,
        _ value: @escaping @Sendable (StepState) -> Double?
    ) -> Family {
        Self.stepFamily(name, "gauge", help, currentOnly: currentOnly) { out, labels, step, state in
            if let value = value(state) { out.sample(name, labels, ["step": step.rawValue], value) }
        }
    }

    /// Results by outcome, from the plain counters.
    private static func counters(
        _ out: inout ExpositionWriter,
        _ labels: LabelSet,
        _ step: Step,
        _ counters: StepCounters?
    ) {
        // Success exists from the start at 0, so rates and ratios have a series before the first result.
        let outcomes = (counters ?? StepCounters()).outcomes.merging([.success: 0]) { seen, _ in seen }
        for (outcome, count) in outcomes.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            out.sample(
                "authprobe_step_results_total",
                labels,
                ["step": step.rawValue, "outcome": outcome.label, "scope": outcome.scope.rawValue],
                count: count
            )
        }
    }

    private static func histogram(
        _ out: inout ExpositionWriter,
        _ labels: LabelSet,
        _ step: Step,
        _ histogram: LatencyHistogram
    ) {
        let step = step.rawValue
        var cumulative = 0
        for (index, bound) in LatencyHistogram.bounds.enumerated() {
            cumulative += histogram.counts[index]
            out.sample(
                "authprobe_request_duration_seconds_bucket",
                labels,
                ["step": step, "le": Self.bound(bound)],
                count: cumulative
            )
        }
        out.sample(
            "authprobe_request_duration_seconds_bucket",
            labels,
            ["step": step, "le": "+Inf"],
            count: histogram.count
        )
        out.sample("authprobe_request_duration_seconds_sum", labels, ["step": step], histogram.sum)
        out.sample("authprobe_request_duration_seconds_count", labels, ["step": step], count: histogram.count)
    }

    /// A bucket bound as Prometheus writes it (`0.5`, `1`, `10`).
    private static func bound(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
