import Foundation

/// Decides when the built-in alerts fire, change severity, are reminded and resolve: a pure state machine.
///
/// Results, reminders and reloads go in, ``AlertAction``s come out; the caller executes them (notifiers, the
/// store). No I/O, no clock (every time is an argument), no lock: the owner serialises calls. A result touches only
/// its target's slot and its environment's, so its cost does not depend on how many targets there are.
///
/// Slots are not persisted: after a restart, streaks and windows start empty, and the alerts stored as firing
/// (``init(thresholds:firing:)``) go on firing, with their `startsAt`, until new results resolve them.
public struct AlertEvaluator: Sendable {
    public let thresholds: AlertThresholds
    let shape: WindowShape
    var targets: [TargetKey: TargetSlot] = [:]
    var environments: [String: EnvironmentSlot] = [:]
    var active: [AlertKey: Firing] = [:]

    /// A firing alert and when receivers last heard of it.
    struct Firing: Sendable {
        var alert: ActiveAlert
        var lastSent: Date
    }

    /// - Parameter firing: the alerts stored as firing before a restart. They stay firing with their `startsAt`:
    ///   a restart neither fires them again nor forgets them. Their last delivery is not known, so each is due for
    ///   a reminder once `every` has passed since its `startsAt`.
    public init(thresholds: AlertThresholds, firing: [ActiveAlert] = []) {
        self.thresholds = thresholds
        self.shape = WindowShape(thresholds)
        for var alert in firing {
            alert.endsAt = nil
            self.active[alert.key] = Firing(alert: alert, lastSent: alert.startsAt)
            switch alert.key.name {
            case .providerUnavailable:
                self.environments[alert.key.environment, default: EnvironmentSlot()].providerFiring = true
                self.environments[alert.key.environment, default: EnvironmentSlot()].restoredOutage = true
            case .tlsCertificateExpiringSoon:
                self.environments[alert.key.environment, default: EnvironmentSlot()].tlsFiring = alert.severity
            default:
                break
            }
        }
    }

    /// The firing alerts, sorted by key.
    public var firing: [ActiveAlert] {
        self.active.values.map(\.alert).sorted { $0.key < $1.key }
    }

    /// The firing alert of `key`, if it fires.
    public func alert(_ key: AlertKey) -> ActiveAlert? {
        self.active[key]?.alert
    }

    /// A `.remind` for each firing alert whose last fire or reminder is at least `every` ago, in key order.
    public mutating func remind(now: Date, every: Duration) -> [AlertAction] {
        let interval = Durations.seconds(every)
        var due: [AlertKey] = []
        for (key, firing) in self.active where now.timeIntervalSince(firing.lastSent) >= interval {
            due.append(key)
        }
        return due.sorted().compactMap { key in
            guard var firing = self.active[key] else { return nil }
            firing.lastSent = now
            self.active[key] = firing
            return .remind(firing.alert)
        }
    }

    /// After a configuration reload: resolves the alerts of targets (and environments) no longer configured and
    /// forgets their slots.
    public mutating func retain(targets configured: Set<TargetKey>, now: Date) -> [AlertAction] {
        var actions: [AlertAction] = []
        let environments = Set(configured.map(\.environment))
        // Environments whose counts a removed target changed: their alerts follow the targets that remain.
        var lostDown: Set<String> = []
        var lostTLS: Set<String> = []
        for (key, slot) in self.targets where !configured.contains(key) {
            if slot.provider.down { lostDown.insert(key.environment) }
            if slot.tlsLevel != nil { lostTLS.insert(key.environment) }
            guard var environment = self.environments[key.environment] else { continue }
            environment.targets -= 1
            if slot.provider.down { environment.down -= 1 }
            environment.countTLS(slot.tlsLevel, by: -1)
            if environment.tlsShown?.target == key { environment.tlsShown = nil }
            self.environments[key.environment] = environment
        }
        self.targets = self.targets.filter { configured.contains($0.key) }

        let removed = self.active.keys.filter { key in
            key.name.isPerEnvironment
                ? !environments.contains(key.environment)
                : !configured.contains(TargetKey(environment: key.environment, client: key.client))
        }
        for key in removed.sorted() { self.clear(key, now: now, into: &actions) }
        self.environments = self.environments.filter { environments.contains($0.key) }

        for name in lostDown.union(lostTLS).sorted() {
            guard var environment = self.environments.removeValue(forKey: name) else { continue }
            if lostDown.contains(name), environment.providerFiring, environment.down == 0, !environment.restoredOutage {
                self.clear(AlertKey(.providerUnavailable, environment: name), now: now, into: &actions)
                environment.providerFiring = false
                environment.lastFailure = nil
            }
            if lostTLS.contains(name) {
                self.settleTLS(environment: name, slot: &environment, now: now, into: &actions)
            }
            self.environments[name] = environment
        }
        return actions
    }

    // MARK: - Firing and resolving

    /// Fires `alert`; when its key fires at another severity, resolves that one first (receivers identify an
    /// alert by its labels, and severity is one of them).
    mutating func raise(_ alert: ActiveAlert, now: Date, into actions: inout [AlertAction]) {
        if var previous = self.active[alert.key] {
            guard previous.alert.severity != alert.severity else { return }
            previous.alert.endsAt = now
            actions.append(.resolve(previous.alert))
        }
        self.active[alert.key] = Firing(alert: alert, lastSent: now)
        actions.append(.fire(alert))
    }

    /// Fires the client alert `name` of `target` (keyed and summarised as every client alert) and marks it in
    /// the target's slot.
    mutating func fire(
        _ name: AlertName,
        of target: TargetKey,
        severity: AlertSeverity,
        outcome: Outcome? = nil,
        httpStatus: Int? = nil,
        description: String,
        startsAt: Date,
        slot: inout TargetSlot,
        now: Date,
        into actions: inout [AlertAction]
    ) {
        let key = AlertKey(name, environment: target.environment, client: target.client)
        let alert = ActiveAlert(
            key: key,
            severity: severity,
            outcome: outcome,
            httpStatus: httpStatus,
            summary: Text.summary(key),
            description: description,
            startsAt: startsAt
        )
        self.raise(alert, now: now, into: &actions)
        slot.firing.insert(name)
    }

    /// Resolves the client alert `name` of `target`, if it fires, and unmarks it in the target's slot.
    mutating func resolve(
        _ name: AlertName,
        of target: TargetKey,
        slot: inout TargetSlot,
        now: Date,
        into actions: inout [AlertAction]
    ) {
        self.clear(AlertKey(name, environment: target.environment, client: target.client), now: now, into: &actions)
        slot.firing.remove(name)
    }

    /// Resolves `key` with `endsAt = now`, if it fires.
    mutating func clear(_ key: AlertKey, now: Date, into actions: inout [AlertAction]) {
        guard var firing = self.active.removeValue(forKey: key) else { return }
        firing.alert.endsAt = now
        actions.append(.resolve(firing.alert))
    }

    /// Changes a firing alert in place, without an action (receivers get the new text with the next reminder).
    mutating func update(_ key: AlertKey, _ change: (inout ActiveAlert) -> Void) {
        guard var firing = self.active[key] else { return }
        change(&firing.alert)
        self.active[key] = firing
    }

    /// Brings a firing alert's outcome, status and description up to date without an action; the description is
    /// written only when the outcome or status changed.
    mutating func refresh(_ key: AlertKey, outcome: Outcome?, httpStatus: Int?, description: () -> String) {
        guard let current = self.active[key]?.alert,
            current.outcome != outcome || current.httpStatus != httpStatus
        else { return }
        self.update(key) { alert in
            alert.outcome = outcome
            alert.httpStatus = httpStatus
            alert.description = description()
        }
    }

    /// Replaces a firing alert's description without an action.
    mutating func refresh(_ key: AlertKey, description: String) {
        guard let current = self.active[key]?.alert, current.description != description else { return }
        self.update(key) { $0.description = description }
    }

    // MARK: - Slots

    /// The slot of a target seen for the first time (at start, or after a reload added it). Alerts restored
    /// firing for it are marked, so that its results can resolve them.
    func newSlot(for target: TargetKey, environment: inout EnvironmentSlot) -> TargetSlot {
        var slot = TargetSlot()
        environment.targets += 1
        if environment.restoredOutage {
            // Part of the outage that was firing before the restart until it shows healthy runs.
            slot.provider.down = true
            slot.provider.runs.failures = UInt16(clamping: self.thresholds.providerFailures)
            environment.down += 1
        }
        guard !self.active.isEmpty else { return slot }
        for name in AlertName.allCases where !name.isPerEnvironment {
            guard let restored = self.active[AlertKey(name, environment: target.environment, client: target.client)]
            else { continue }
            slot.firing.insert(name)
            if name == .tokenLifetimeChanged { slot.lifetime.differingSince = restored.alert.startsAt }
        }
        return slot
    }
}
