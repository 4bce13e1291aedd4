import Foundation
import NIOConcurrencyHelpers
import Prometheus

/// The only place that knows metric names: turns probe results (and restored history) into
/// Prometheus series with bounded labels — environment, client, step, phase, outcome.
///
/// Never a URL, a message or a credential in a label.
public final class MonitorMetrics: Sendable {
    /// The registry rendered on `/metrics`.
    public let registry: PrometheusCollectorRegistry

    /// The latest success of every step of every target: `up` is "every step's latest result succeeded",
    /// so a run that skipped the token (not due, or an earlier step failed) does not hide a broken credential.
    private let stepStates = NIOLockedValueBox<[TargetKey: [Step: Bool]]>([:])

    /// The key set last seen per environment, to notice rotations.
    private let keySets = NIOLockedValueBox<[String: String]>([:])

    /// Phase series that currently exist, so that only those are removed when a phase does not happen.
    private let livePhases = NIOLockedValueBox<Set<String>>([])

    /// Buckets for token-endpoint latency: a healthy endpoint answers in 5–500 ms, a sick one in seconds.
    public static let latencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        .seconds(30),
    ]

    private enum Name {
        static let up = "up"
        static let stepSuccess = "step_success"
        static let stepDuration = "step_duration_seconds"
        static let requestDuration = "request_duration_seconds"
        static let stepResults = "step_results_total"
        static let consecutiveFailures = "consecutive_failures"
        static let lastSuccess = "last_success_timestamp_seconds"
        static let tokenLifetime = "token_lifetime_seconds"
        static let jwksKeys = "jwks_keys"
        static let credentialExpiry = "credential_expiry_timestamp_seconds"
        static let tlsExpiry = "tls_certificate_expiry_timestamp_seconds"
        static let clockSkew = "clock_skew_seconds"
        static let tokenVerified = "token_signature_verified"
        static let tokenInterval = "token_interval_seconds"
        static let conformanceViolation = "conformance_violation"
        static let jwksRotation = "jwks_last_rotation_timestamp_seconds"
        static let buildInfo = "build_info"
    }

    private static let help: [String: String] = [
        Name.up: "1 if the latest result of every step of the environment and client succeeded, else 0.",
        Name.stepSuccess: "1 if the last result of the step was a success, else 0.",
        Name.stepDuration: "Duration of the last result of the step, by phase (total is the whole request).",
        Name.requestDuration: "Duration of every request of the step.",
        Name.stepResults: "Step results by outcome.",
        Name.consecutiveFailures: "Failed results of the step since its last success.",
        Name.lastSuccess: "Unix time of the last successful result of the step.",
        Name.tokenLifetime: "expires_in of the last token issued.",
        Name.jwksKeys: "Number of keys in the last JWKS fetched.",
        Name.conformanceViolation:
            "1 if the provider's last answer broke the rule (and the rule is not allowed), else 0.",
        Name.tokenInterval: "Configured time between token requests (token_interval), for alert rules.",
        Name.clockSkew:
            "The provider's clock minus authprobe's: from the iat of the last issued JWT, else from the Date header "
            + "of the last response (to about 0.5 s).",
        Name.tokenVerified:
            "1 if the last JWT access token's signature was verified against the JWKS, 0 if no published key "
            + "could be used to verify it; absent for opaque tokens.",
        Name.jwksRotation: "Unix time of the run that first saw the current JWKS key set differ from the previous one.",
        Name.tlsExpiry: "Unix time at which the TLS certificate of the endpoint expires (notAfter).",
        Name.credentialExpiry:
            "Unix time at which the credential expires, where known (kind: secret or key from expires_at, "
            + "certificate or key from a certificate's notAfter).",
        Name.buildInfo: "authprobe build information; always 1.",
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), location: String? = nil) {
        self.registry = registry
        self.gauge(Name.buildInfo, ["version": AuthProbeVersion.current, "location": location ?? ""]).set(1.0)
    }

    /// The exposition text of every series.
    public func render() -> [UInt8] {
        self.registry.emitToBuffer()
    }

    // MARK: - Recording

    /// Updates every series a probe result describes.
    public func record(_ result: ProbeResult) {
        let target = result.target
        let allSucceeded = self.stepStates.withLockedValue { states in
            for step in result.steps { states[target, default: [:]][step.step] = step.succeeded }
            return result.succeeded && states[target, default: [:]].values.allSatisfy { $0 }
        }
        self.gauge(Name.up, Self.labels(target)).set(allSucceeded ? 1.0 : 0.0)
        for step in result.steps {
            let stepLabels = Self.labels(target, step.step)
            self.gauge(Name.stepSuccess, stepLabels).set(step.succeeded ? 1.0 : 0.0)
            for phase in Phase.allCases {
                let labels = stepLabels.merging(["phase": phase.rawValue]) { $1 }
                let series =
                    "\(target.environment)\u{0}\(target.client)\u{0}\(step.step.rawValue)\u{0}\(phase.rawValue)"
                if let value = step.timings[phase] {
                    self.gauge(Name.stepDuration, labels).set(Durations.seconds(value))
                    self.livePhases.withLockedValue { _ = $0.insert(series) }
                } else if self.livePhases.withLockedValue({ $0.remove(series) }) != nil {
                    // A phase that did not happen this time must not show last run's value.
                    self.registry.unregisterGauge(self.gauge(Name.stepDuration, labels))
                }
            }
            self.gauge(Name.stepDuration, stepLabels.merging(["phase": "total"]) { $1 })
                .set(Durations.seconds(step.timings.total))
            self.histogram(stepLabels).record(step.timings.total)
            self.counter(Name.stepResults, stepLabels.merging(["outcome": step.outcome.label]) { $1 }).increment()
            let failures = self.gauge(Name.consecutiveFailures, stepLabels)
            if step.succeeded {
                failures.set(0.0)
                self.gauge(Name.lastSuccess, stepLabels).set(result.startedAt.timeIntervalSince1970)
            } else {
                failures.increment()
            }
            if let lifetime = step.tokenLifetime {
                self.gauge(Name.tokenLifetime, Self.labels(target)).set(Double(lifetime))
            }
            if let notAfter = step.tlsCertificateExpiry {
                self.gauge(Name.tlsExpiry, ["environment": target.environment, "endpoint": step.step.rawValue])
                    .set(notAfter.timeIntervalSince1970)
            }
            for rule in step.conformance.checked {
                let labels = Self.labels(target).merging(["rule": rule.rawValue]) { $1 }
                self.gauge(Name.conformanceViolation, labels).set(step.conformance.violated.contains(rule) ? 1.0 : 0.0)
            }
            if let verified = step.tokenVerified {
                self.gauge(Name.tokenVerified, Self.labels(target)).set(verified ? 1.0 : 0.0)
            }
            if let skew = step.clockSkew {
                self.gauge(Name.clockSkew, ["environment": target.environment]).set(skew)
            }
            if let fingerprint = step.jwksFingerprint {
                let previous = self.keySets.withLockedValue { $0.updateValue(fingerprint, forKey: target.environment) }
                if let previous, previous != fingerprint {
                    self.gauge(Name.jwksRotation, ["environment": target.environment])
                        .set(result.startedAt.timeIntervalSince1970)
                }
            }
            if let keys = step.jwksKeys {
                self.gauge(Name.jwksKeys, ["environment": target.environment]).set(Double(keys))
            }
        }
    }

    /// Sets the history series from the store, so a restart does not make a broken credential look healthy.
    /// Only the targets and steps of the current configuration are restored (a step no longer configured,
    /// such as a removed API check, must not hold `up` at 0).
    public func restore(_ history: StoreHistory, targets: [ProbeTarget]) {
        var steps: [TargetKey: Set<Step>] = [:]
        for target in targets {
            var expected: Set<Step> = [.discovery, .jwks]
            if target.client != nil { expected.insert(.token) }
            if target.client != nil && target.environment.apiCheck != nil { expected.insert(.api) }
            steps[target.key] = expected
        }
        let keys = Set(steps.keys)
        var lastRunSucceeded: [TargetKey: Bool] = [:]
        for entry in history.steps where steps[entry.target]?.contains(entry.step) == true {
            let labels = Self.labels(entry.target, entry.step)
            self.gauge(Name.stepSuccess, labels).set(entry.lastOutcome == .success ? 1.0 : 0.0)
            self.gauge(Name.consecutiveFailures, labels).set(Double(entry.consecutiveFailures))
            if let lastSuccess = entry.lastSuccess {
                self.gauge(Name.lastSuccess, labels).set(lastSuccess.timeIntervalSince1970)
            }
            self.stepStates.withLockedValue {
                $0[entry.target, default: [:]][entry.step] = entry.lastOutcome == .success
            }
            lastRunSucceeded[entry.target, default: true] =
                lastRunSucceeded[entry.target, default: true] && entry.lastOutcome == .success
        }
        for (target, succeeded) in lastRunSucceeded {
            self.gauge(Name.up, Self.labels(target)).set(succeeded ? 1.0 : 0.0)
        }
        for (target, lifetime) in history.tokenLifetimes where keys.contains(target) {
            self.gauge(Name.tokenLifetime, Self.labels(target)).set(Double(lifetime))
        }
        let environments = Set(keys.map(\.environment))
        for (environment, keys) in history.jwksKeys where environments.contains(environment) {
            self.gauge(Name.jwksKeys, ["environment": environment]).set(Double(keys))
        }
    }

    /// Publishes the configured token cadence and the known expiry of each credential: `expires_at` of a
    /// secret or signing key, the `notAfter` of a client or signing-key certificate.
    public func describeCredentials(_ targets: [ProbeTarget]) {
        for target in targets {
            self.gauge(Name.tokenInterval, ["environment": target.environment.name])
                .set(Durations.seconds(target.environment.tokenInterval))
            for expiry in target.client?.credentialExpiries ?? [] {
                self.gauge(
                    Name.credentialExpiry,
                    Self.labels(target.key).merging(["kind": expiry.kind.rawValue]) { $1 }
                )
                .set(expiry.expiresAt.timeIntervalSince1970)
            }
        }
    }

    // MARK: - Series

    private static func labels(_ target: TargetKey) -> [String: String] {
        ["environment": target.environment, "client": target.client]
    }

    private static func labels(_ target: TargetKey, _ step: Step) -> [String: String] {
        ["environment": target.environment, "client": target.client, "step": step.rawValue]
    }

    /// Label order is fixed (sorted by name) so every series of a family has the same label set.
    private static func ordered(_ labels: [String: String]) -> [(String, String)] {
        labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    private static func descriptor(_ name: String) -> MetricNameDescriptor {
        Self.descriptors[name]
            ?? MetricNameDescriptor(namespace: "authprobe", metricName: name, unitName: "", helpText: "")
    }

    /// Built once: every probe result touches a dozen series. Never mutated after initialization.
    nonisolated(unsafe) private static let descriptors: [String: MetricNameDescriptor] = Dictionary(
        uniqueKeysWithValues: MonitorMetrics.help.map { name, help in
            (name, MetricNameDescriptor(namespace: "authprobe", metricName: name, unitName: "", helpText: help))
        }
    )

    private func gauge(_ name: String, _ labels: [String: String]) -> Gauge {
        self.registry.makeGauge(descriptor: Self.descriptor(name), labels: Self.ordered(labels))
    }

    private func counter(_ name: String, _ labels: [String: String]) -> Counter {
        self.registry.makeCounter(descriptor: Self.descriptor(name), labels: Self.ordered(labels))
    }

    private func histogram(_ labels: [String: String]) -> DurationHistogram {
        self.registry.makeDurationHistogram(
            descriptor: Self.descriptor(Name.requestDuration),
            labels: Self.ordered(labels),
            buckets: Self.latencyBuckets
        )
    }
}
