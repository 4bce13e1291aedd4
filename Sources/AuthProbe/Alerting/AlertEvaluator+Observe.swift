import Foundation

extension AlertEvaluator {
    /// Evaluates one probe result of a target: call it once per result, with the target's state after that result
    /// and the target's configured credential expiries. Touches only this target's slot and its environment's.
    public mutating func observe(
        _ result: ProbeResult,
        state: TargetState,
        credentialExpiries: [(kind: CredentialKind, expiresAt: Date)],
        now: Date
    ) -> [AlertAction] {
        var actions: [AlertAction] = []
        let target = result.target
        // Taken out and put back, so that each is mutated in place, uniquely referenced.
        var environment = self.environments.removeValue(forKey: target.environment) ?? EnvironmentSlot()
        var slot = self.targets.removeValue(forKey: target) ?? self.newSlot(for: target, environment: &environment)

        self.countProviderRun(result, slot: &slot, environment: &environment)
        if let token = result.steps.first(where: { $0.step == .token }), token.outcome.scope != .authprobe {
            self.observeToken(token, result: result, slot: &slot, now: now, into: &actions)
        }
        self.settleProvider(
            target.environment,
            slot: &environment,
            startedAt: result.startedAt,
            now: now,
            into: &actions
        )
        if let api = result.steps.first(where: { $0.step == .api }), api.outcome.scope != .authprobe {
            self.observeAPI(api, result: result, slot: &slot, now: now, into: &actions)
        }
        self.observeCredentialExpiry(credentialExpiries, target: target, slot: &slot, now: now, into: &actions)
        self.observeTLS(state, target: target, slot: &slot, environment: &environment, now: now, into: &actions)

        self.targets[target] = slot
        self.environments[target.environment] = environment
        return actions
    }

    /// An outcome that says the identity provider (or the network to it) is broken. The jwt_* outcomes have alerts
    /// of their own; authprobe's own failures and the API step (APIFailing) are not the provider's.
    static func isProviderFailure(_ step: StepResult) -> Bool {
        guard step.step != .api, step.outcome.scope == .provider else { return false }
        switch step.outcome {
        case .jwtUnknownKid, .jwtInvalidSignature, .jwtClaimsInvalid: return false
        default: return true
        }
    }

    /// How close an expiry is: critical within `expiryCritical` (or past), warning within `expiryWarning`.
    func expiryLevel(_ expiresAt: Date, now: Date) -> AlertSeverity? {
        let remaining = expiresAt.timeIntervalSince(now)
        if remaining < Durations.seconds(self.thresholds.expiryCritical) { return .critical }
        if remaining < Durations.seconds(self.thresholds.expiryWarning) { return .warning }
        return nil
    }

    // MARK: - Provider

    /// Counts the run for or against the provider. A run in which nothing measured the provider (authprobe's own
    /// failure before any step answered) neither counts nor breaks the streak; an API step that answered measured
    /// only the API, but it is never reached without the token step.
    private mutating func countProviderRun(
        _ result: ProbeResult,
        slot: inout TargetSlot,
        environment: inout EnvironmentSlot
    ) {
        var failure: StepResult?
        var measured = false
        for step in result.steps where step.outcome.scope != .authprobe {
            measured = true
            if Self.isProviderFailure(step) { failure = step }
        }
        guard measured else { return }
        if let failure {
            slot.provider.runs.fail()
            if !slot.provider.down, Int(slot.provider.runs.failures) >= self.thresholds.providerFailures {
                slot.provider.down = true
                environment.down += 1
            }
            if slot.provider.down {
                environment.lastFailure = ProviderFailure(
                    step: failure.step,
                    outcome: failure.outcome,
                    httpStatus: failure.httpStatus.flatMap(Int16.init(exactly:))
                )
            }
        } else {
            slot.provider.runs.succeed()
            if slot.provider.down, Int(slot.provider.runs.successes) >= self.thresholds.resolveAfter {
                slot.provider.down = false
                environment.down -= 1
            }
        }
    }

    /// ProviderUnavailable follows its environment's count of provider-down targets: fires with the first,
    /// resolves with the last.
    private mutating func settleProvider(
        _ name: String,
        slot environment: inout EnvironmentSlot,
        startedAt: Date,
        now: Date,
        into actions: inout [AlertAction]
    ) {
        if environment.down > 0 {
            // A restored alert keeps its description until a failure is seen again.
            let changed =
                environment.lastFailure != nil
                && (environment.lastFailure != environment.describedFailure
                    || environment.down != environment.describedDown)
            guard !environment.providerFiring || changed else { return }
            let key = AlertKey(.providerUnavailable, environment: name)
            let failure = environment.lastFailure
            let description = Text.providerUnavailable(environment, thresholds: self.thresholds)
            if environment.providerFiring {
                self.update(key) { alert in
                    alert.outcome = failure?.outcome
                    alert.httpStatus = failure?.status
                    alert.description = description
                }
            } else {
                let alert = ActiveAlert(
                    key: key,
                    severity: .critical,
                    outcome: failure?.outcome,
                    httpStatus: failure?.status,
                    summary: Text.summary(key),
                    description: description,
                    startsAt: startedAt
                )
                self.raise(alert, now: now, into: &actions)
                environment.providerFiring = true
            }
            environment.describedFailure = failure
            environment.describedDown = environment.down
        } else if environment.providerFiring {
            self.clear(AlertKey(.providerUnavailable, environment: name), now: now, into: &actions)
            environment.providerFiring = false
            environment.restoredOutage = false
            environment.lastFailure = nil
            environment.describedFailure = nil
            environment.describedDown = 0
        }
    }

    // MARK: - API

    private mutating func observeAPI(
        _ step: StepResult,
        result: ProbeResult,
        slot: inout TargetSlot,
        now: Date,
        into actions: inout [AlertAction]
    ) {
        let name = AlertName.apiFailing
        let target = result.target
        if step.succeeded { slot.api.succeed() } else { slot.api.fail() }
        if slot.firing.contains(name) {
            let key = AlertKey(name, environment: target.environment, client: target.client)
            if step.succeeded, Int(slot.api.successes) >= self.thresholds.resolveAfter {
                self.resolve(name, of: target, slot: &slot, now: now, into: &actions)
            } else if !step.succeeded {
                let (runs, thresholds) = (Int(slot.api.failures), self.thresholds)
                self.refresh(key, outcome: step.outcome, httpStatus: step.httpStatus) {
                    Text.apiFailing(step, attempts: runs, thresholds: thresholds)
                }
            }
        } else if !step.succeeded, Int(slot.api.failures) >= self.thresholds.apiFailures {
            self.fire(
                name,
                of: target,
                severity: .critical,
                outcome: step.outcome,
                httpStatus: step.httpStatus,
                description: Text.apiFailing(step, attempts: Int(slot.api.failures), thresholds: self.thresholds),
                startsAt: result.startedAt,
                slot: &slot,
                now: now,
                into: &actions
            )
        }
    }

    // MARK: - Expiries

    /// CredentialExpiringSoon from the earliest configured credential expiry of the client.
    private mutating func observeCredentialExpiry(
        _ expiries: [(kind: CredentialKind, expiresAt: Date)],
        target: TargetKey,
        slot: inout TargetSlot,
        now: Date,
        into actions: inout [AlertAction]
    ) {
        let name = AlertName.credentialExpiringSoon
        var earliest: (kind: CredentialKind, expiresAt: Date)?
        for expiry in expiries where earliest.map({ expiry.expiresAt < $0.expiresAt }) ?? true { earliest = expiry }
        guard let earliest, let level = self.expiryLevel(earliest.expiresAt, now: now) else {
            if slot.firing.contains(name) {
                self.resolve(name, of: target, slot: &slot, now: now, into: &actions)
            }
            return
        }
        let key = AlertKey(name, environment: target.environment, client: target.client)
        let description = Text.credentialExpiry(earliest.kind, earliest.expiresAt, thresholds: self.thresholds)
        if slot.firing.contains(name), self.active[key]?.alert.severity == level {
            self.refresh(key, description: description)
            return
        }
        self.fire(
            name,
            of: target,
            severity: level,
            description: description,
            startsAt: now,
            slot: &slot,
            now: now,
            into: &actions
        )
    }

    /// Counts the target's TLS level in its environment, then lets the environment's alert follow.
    private mutating func observeTLS(
        _ state: TargetState,
        target: TargetKey,
        slot: inout TargetSlot,
        environment: inout EnvironmentSlot,
        now: Date,
        into actions: inout [AlertAction]
    ) {
        var earliest: (step: Step, expiresAt: Date)?
        for step in Step.allCases {
            guard let expiresAt = state.tlsExpiry[step] else { continue }
            if earliest.map({ expiresAt < $0.expiresAt }) ?? true { earliest = (step, expiresAt) }
        }
        let level = earliest.flatMap { self.expiryLevel($0.expiresAt, now: now) }
        if level != slot.tlsLevel {
            environment.countTLS(slot.tlsLevel, by: -1)
            environment.countTLS(level, by: 1)
            slot.tlsLevel = level
        }
        if let level, let earliest, level == environment.tlsLevel {
            let replaces = environment.tlsShown.map { $0.target == target || earliest.expiresAt < $0.expiresAt } ?? true
            if replaces {
                environment.tlsShown = TLSExpiry(target: target, step: earliest.step, expiresAt: earliest.expiresAt)
            }
        } else if environment.tlsShown?.target == target {
            environment.tlsShown = nil
        }
        guard environment.tlsFiring != nil || environment.tlsLevel != nil else { return }
        self.settleTLS(environment: target.environment, slot: &environment, now: now, into: &actions)
    }

    /// TLSCertificateExpiringSoon at the worst level of the environment's targets.
    mutating func settleTLS(
        environment name: String,
        slot environment: inout EnvironmentSlot,
        now: Date,
        into actions: inout [AlertAction]
    ) {
        let key = AlertKey(.tlsCertificateExpiringSoon, environment: name)
        let level = environment.tlsLevel
        guard level != environment.tlsFiring else {
            let shown = environment.tlsShown
            if level != nil, let shown,
                shown.step != environment.tlsDescribed?.step || shown.expiresAt != environment.tlsDescribed?.expiresAt
            {
                self.refresh(key, description: Text.tlsExpiry(shown, thresholds: self.thresholds))
                environment.tlsDescribed = shown
            }
            return
        }
        if let level {
            let alert = ActiveAlert(
                key: key,
                severity: level,
                summary: Text.summary(key),
                description: Text.tlsExpiry(environment.tlsShown, thresholds: self.thresholds),
                startsAt: now
            )
            self.raise(alert, now: now, into: &actions)
            environment.tlsDescribed = environment.tlsShown
        } else {
            self.clear(key, now: now, into: &actions)
        }
        environment.tlsFiring = level
    }
}
