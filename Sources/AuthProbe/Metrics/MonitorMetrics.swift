import Foundation
import NIOConcurrencyHelpers
import Prometheus

/// The only place that knows metric names. Keeps, per target and per environment, the latest
/// ``TargetState`` and plain counters, and renders them as Prometheus series when scraped.
///
/// Recording a result is O(1) whatever the number of targets: one hash lookup, one small lock, no registry
/// call. Series are written at scrape time (in the spirit of kube-state-metrics and blackbox_exporter's
/// per-probe registry), so a target's series always say what its state says. Labels are bounded: environment,
/// client, step, phase, outcome, scope, kind, endpoint, rule — never a URL, a message or a credential.
///
/// What describes the provider (discovery, JWKS, TLS of its endpoints, clock skew, conformance) is exported
/// once per environment, from the target that saw it last; what describes a credential (token, API, `up`)
/// once per environment×client.
public final class MonitorMetrics: ProbeResultSink {
    /// authprobe's own metrics (process, scheduler, store, build info): a fixed set of series.
    public let registry: PrometheusCollectorRegistry
    /// The scheduler's, the store's and the process's figures.
    public let own: SelfMetrics

    let targets: [TargetSlot.Info]
    let environments: [EnvironmentSlot.Info]
    private let targetIndex: [TargetKey: Int]
    private let environmentIndex: [String: Int]
    let targetSlots: [NIOLockedValueBox<TargetSlot>]
    let environmentSlots: [NIOLockedValueBox<EnvironmentSlot>]

    /// - Parameters:
    ///   - targets: the configured targets, in configuration order (the order of the series).
    ///   - registry: where authprobe's own metrics live; rendered first on every scrape.
    public init(
        targets: [ProbeTarget],
        location: String? = nil,
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
    ) {
        self.registry = registry
        self.own = SelfMetrics(registry: registry)
        var environmentIndex: [String: Int] = [:]
        var environments: [EnvironmentSlot.Info] = []
        var targetIndex: [TargetKey: Int] = [:]
        var infos: [TargetSlot.Info] = []
        for target in targets where targetIndex[target.key] == nil {
            let environment = target.environment
            if environmentIndex[environment.name] == nil {
                environmentIndex[environment.name] = environments.count
                environments.append(EnvironmentSlot.Info(environment))
            }
            targetIndex[target.key] = infos.count
            infos.append(TargetSlot.Info(target))
        }
        self.targets = infos
        self.environments = environments
        self.targetIndex = targetIndex
        self.environmentIndex = environmentIndex
        self.targetSlots = infos.map { _ in NIOLockedValueBox(TargetSlot()) }
        self.environmentSlots = environments.map { _ in NIOLockedValueBox(EnvironmentSlot()) }
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "authprobe",
                metricName: "build_info",
                unitName: "",
                helpText: "authprobe build information; always 1."
            ),
            labels: [("location", location ?? ""), ("version", AuthProbeVersion.current)]
        ).set(1.0)
    }

    /// Takes over the states restored at start, so a restart does not make a broken credential look healthy.
    /// States of targets no longer configured are ignored.
    public func restore(_ states: [TargetState]) {
        var newest: [Int: TargetState] = [:]
        for state in states {
            guard let index = self.targetIndex[state.key] else { continue }
            self.targetSlots[index].withLockedValue { $0.state = state }
            let environment = self.environmentIndex[state.key.environment]!
            if let lastRun = state.lastRun, lastRun >= newest[environment]?.lastRun ?? .distantPast {
                newest[environment] = state
            }
        }
        for (environment, state) in newest {
            self.environmentSlots[environment].withLockedValue { $0.view.take(from: state, steps: Step.allCases) }
        }
    }

    /// Records one result and the target's state after it: O(1), whatever the number of targets.
    public func record(_ result: ProbeResult, state: TargetState) {
        guard let index = self.targetIndex[result.target],
            let environment = self.environmentIndex[result.target.environment]
        else { return }
        self.targetSlots[index].withLockedValue { slot in
            slot.state = state
            for step in result.steps where !step.step.describesProvider {
                slot.counters[step.step, default: StepCounters()].record(step)
            }
        }
        self.environmentSlots[environment].withLockedValue { slot in
            slot.view.take(from: state, steps: result.steps.map(\.step))
            for step in result.steps where step.step.describesProvider {
                slot.counters[step.step, default: StepCounters()].record(step)
            }
        }
    }
}

extension Step {
    /// Discovery and JWKS describe the provider, the same for every client: exported per environment.
    var describesProvider: Bool { self == .discovery || self == .jwks }
}

/// What is exported per environment×client: its state and its counters.
struct TargetSlot: Sendable {
    /// Fixed at start.
    struct Info: Sendable {
        let key: TargetKey
        let labels: LabelSet
        /// The client steps this target probes (token, and api when configured).
        let steps: [Step]
        let credentialExpiries: [(kind: String, expiresAt: Double)]

        init(_ target: ProbeTarget) {
            self.key = target.key
            self.labels = LabelSet(pairs: [("environment", target.key.environment), ("client", target.key.client)])
            var steps: [Step] = []
            if target.client != nil {
                steps.append(.token)
                if target.environment.apiCheck != nil { steps.append(.api) }
            }
            self.steps = steps
            self.credentialExpiries = (target.client?.credentialExpiries ?? []).map {
                ($0.kind.rawValue, $0.expiresAt.timeIntervalSince1970)
            }
        }
    }

    var state: TargetState?
    var counters = StepMap<StepCounters>()
}

/// What is exported per environment: the provider as the environment's targets last saw it.
struct EnvironmentSlot: Sendable {
    struct Info: Sendable {
        let name: String
        let labels: LabelSet
        let tokenInterval: Double

        init(_ environment: EnvironmentConfig) {
            self.name = environment.name
            self.labels = LabelSet(pairs: [("environment", environment.name)])
            self.tokenInterval = Durations.seconds(environment.tokenInterval)
        }
    }

    var view = ProviderView()
    var counters = StepMap<StepCounters>()
}

/// The provider-describing part of the newest target state of an environment.
struct ProviderView: Sendable {
    var steps = StepMap<StepState>()
    var tlsExpiry = StepMap<Date>()
    var conformance = StepMap<ConformanceReport>()
    var jwks: JWKSState?
    var clockSkew: Double?

    /// Takes what `state` says about the provider after a run that attempted `attempted`.
    mutating func take(from state: TargetState, steps attempted: [Step]) {
        for step in Step.allCases where step.describesProvider {
            if let entry = state.steps[step] { self.steps[step] = entry }
        }
        for step in attempted {
            if let notAfter = state.tlsExpiry[step] { self.tlsExpiry[step] = notAfter }
            if let report = state.conformance[step] { self.conformance[step] = report }
        }
        if let jwks = state.jwks { self.jwks = jwks }
        if let skew = state.clockSkew { self.clockSkew = skew }
    }
}
