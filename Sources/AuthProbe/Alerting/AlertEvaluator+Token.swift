import Foundation

extension AlertEvaluator {
    /// TokenErrorBudget needs at least this many token attempts in the short window...
    public static let budgetMinimumAttempts = 3
    /// ...and at least this many failures in it: one failed request never pages, whatever the ratio.
    public static let budgetMinimumFailures = 2
    /// TokenLatencyHigh needs at least this many slow successful requests in the window: one outlier never pages.
    public static let latencyMinimumSlow = 2
    /// TokenLatencyHigh fires when more than 1 in this many successful requests was slow (5 %: a p95 above the
    /// bound).
    public static let latencySlowFraction = 20
    /// TokenLifetimeChanged ignores differences of a minute or less, whatever the tolerance.
    public static let lifetimeMinimumDifference = 60.0

    /// Evaluates a token attempt (not authprobe's own failure, which measured nothing): the streak alerts, the
    /// error budget, latency and the token lifetime.
    mutating func observeToken(
        _ step: StepResult,
        result: ProbeResult,
        slot: inout TargetSlot,
        now: Date,
        into actions: inout [AlertAction]
    ) {
        slot.token.record(step)
        let bucket = self.shape.bucket(result.startedAt)
        if step.succeeded {
            slot.budget = BudgetStreak()
            slot.window.record(bucket: bucket, failed: false, slow: step.timings.total > self.thresholds.latencyBound)
        } else if !slot.budget.explained {
            slot.budget.add(bucket: bucket)
            slot.window.record(bucket: bucket, failed: true, slow: false)
        }
        self.settleTokenStreaks(step, result: result, slot: &slot, now: now, into: &actions)
        self.settleBudget(step, result: result, slot: &slot, now: now, into: &actions)
        self.settleLatency(result: result, slot: &slot, now: now, into: &actions)
        if step.succeeded, let lifetime = step.tokenLifetime {
            self.settleLifetime(lifetime, result: result, slot: &slot, now: now, into: &actions)
        }
    }

    /// CredentialRejected, TokenRequestRejected, JWKSKeyMissing and SignatureInvalid: `confirmRuns` token attempts
    /// in a row of their class fire them, `resolveAfter` successes in a row resolve them.
    private mutating func settleTokenStreaks(
        _ step: StepResult,
        result: ProbeResult,
        slot: inout TargetSlot,
        now: Date,
        into actions: inout [AlertAction]
    ) {
        let target = result.target
        let failureClass = TokenFailureClass(step.outcome)
        let attempts = Int(slot.token.counts.failures)
        for candidate in TokenFailureClass.alerting {
            guard let name = candidate.alert else { continue }
            if slot.firing.contains(name) {
                let key = AlertKey(name, environment: target.environment, client: target.client)
                if step.succeeded, Int(slot.token.counts.successes) >= self.thresholds.resolveAfter {
                    self.resolve(name, of: target, slot: &slot, now: now, into: &actions)
                } else if failureClass == candidate {
                    let thresholds = self.thresholds
                    self.refresh(key, outcome: step.outcome, httpStatus: step.httpStatus) {
                        Text.tokenStreak(name, step, attempts: attempts, thresholds: thresholds)
                    }
                }
            } else if failureClass == candidate, attempts >= self.thresholds.confirmRuns {
                self.fire(
                    name,
                    of: target,
                    severity: .critical,
                    outcome: step.outcome,
                    httpStatus: step.httpStatus,
                    description: Text.tokenStreak(name, step, attempts: attempts, thresholds: self.thresholds),
                    startsAt: result.startedAt,
                    slot: &slot,
                    now: now,
                    into: &actions
                )
            }
        }
    }

    /// TokenErrorBudget: the token error ratio above the budget's burn rate in both windows.
    ///
    /// Failures that a streak alert explains (the client's token streak alerts, or the target provider-down) leave
    /// the window, so that a revoked credential or an outage pages once, and not again per client from the budget.
    /// While failures go on, the budget may fire only once they outlast every streak threshold unexplained (a run
    /// of mixed failures no streak alert catches); otherwise it fires on a success: failures that come and go.
    private mutating func settleBudget(
        _ step: StepResult,
        result: ProbeResult,
        slot: inout TargetSlot,
        now: Date,
        into actions: inout [AlertAction]
    ) {
        let name = AlertName.tokenErrorBudget
        let target = result.target
        if !step.succeeded, !slot.budget.explained, slot.provider.down || self.tokenStreakAlertFiring(slot) {
            slot.window.remove(slot.budget)
            slot.budget.explained = true
        }
        let nowBucket = self.shape.bucket(now)
        let threshold = self.thresholds.errorRatioThreshold
        func over(_ sums: TokenWindow.Sums) -> Bool {
            sums.attempts > 0 && Double(sums.failures) > threshold * Double(sums.attempts)
        }
        let short = slot.window.sums(last: self.shape.shortBuckets, at: nowBucket)
        if slot.firing.contains(name) {
            let key = AlertKey(name, environment: target.environment, client: target.client)
            if step.succeeded, Int(slot.token.counts.successes) >= self.thresholds.resolveAfter, !over(short) {
                self.resolve(name, of: target, slot: &slot, now: now, into: &actions)
            } else if !step.succeeded {
                let long = slot.window.sums(last: self.shape.longBuckets, at: nowBucket)
                let thresholds = self.thresholds
                self.refresh(key, outcome: step.outcome, httpStatus: step.httpStatus) {
                    Text.budget(short: short, long: long, latest: step.outcome, status: step.httpStatus, thresholds)
                }
            }
            return
        }
        let outlasted =
            !slot.budget.explained
            && Int(slot.budget.failures) >= max(self.thresholds.confirmRuns, self.thresholds.providerFailures)
        guard step.succeeded || outlasted,
            short.attempts >= Self.budgetMinimumAttempts,
            short.failures >= Self.budgetMinimumFailures,
            over(short)
        else { return }
        let long = slot.window.sums(last: self.shape.longBuckets, at: nowBucket)
        guard over(long) else { return }
        let outcome = slot.token.lastFailure
        let status = slot.token.lastStatus.map(Int.init)
        self.fire(
            name,
            of: target,
            severity: .critical,
            outcome: outcome,
            httpStatus: status,
            description: Text.budget(short: short, long: long, latest: outcome, status: status, self.thresholds),
            startsAt: result.startedAt,
            slot: &slot,
            now: now,
            into: &actions
        )
    }

    private func tokenStreakAlertFiring(_ slot: TargetSlot) -> Bool {
        TokenFailureClass.alerting.contains { $0.alert.map(slot.firing.contains) ?? false }
    }

    /// TokenLatencyHigh: more than 5 % of the successful token requests in the window slower than the bound, and
    /// at least two of them. Resolves when that no longer holds, on at least `resolveAfter` successful requests.
    private mutating func settleLatency(
        result: ProbeResult,
        slot: inout TargetSlot,
        now: Date,
        into actions: inout [AlertAction]
    ) {
        let name = AlertName.tokenLatencyHigh
        let target = result.target
        let sums = slot.window.sums(last: self.shape.latencyBuckets, at: self.shape.bucket(now))
        let holds = sums.slow >= Self.latencyMinimumSlow && sums.slow * Self.latencySlowFraction > sums.successes
        if slot.firing.contains(name) {
            guard !holds, sums.successes >= self.thresholds.resolveAfter else { return }
            self.resolve(name, of: target, slot: &slot, now: now, into: &actions)
        } else if holds {
            self.fire(
                name,
                of: target,
                severity: .warning,
                description: Text.latency(sums, thresholds: self.thresholds),
                startsAt: result.startedAt,
                slot: &slot,
                now: now,
                into: &actions
            )
        }
    }

    /// TokenLifetimeChanged: `expires_in` against the first one seen.
    private mutating func settleLifetime(
        _ lifetime: Int,
        result: ProbeResult,
        slot: inout TargetSlot,
        now: Date,
        into actions: inout [AlertAction]
    ) {
        let name = AlertName.tokenLifetimeChanged
        let target = result.target
        let settle = Durations.seconds(self.thresholds.lifetimeSettle)
        var tracker = slot.lifetime
        defer { slot.lifetime = tracker }
        guard let baseline = tracker.baseline else {
            if let since = tracker.differingSince {
                // Restored firing: the old baseline is not known, only when the change began.
                guard now.timeIntervalSince(since) >= settle else { return }
                tracker = LifetimeTracker(baseline: Int32(clamping: lifetime))
                self.resolve(name, of: target, slot: &slot, now: now, into: &actions)
            } else {
                tracker.baseline = Int32(clamping: lifetime)
            }
            return
        }
        let tolerance = max(self.thresholds.lifetimeTolerance * Double(baseline), Self.lifetimeMinimumDifference)
        let differs = abs(Double(lifetime) - Double(baseline)) > tolerance
        if differs {
            tracker.within = 0
            if tracker.differing < .max { tracker.differing += 1 }
            if tracker.differingSince == nil { tracker.differingSince = result.startedAt }
        } else {
            tracker.differing = 0
            tracker.differingSince = nil
            if tracker.within < .max { tracker.within += 1 }
        }
        let firing = slot.firing.contains(name)
        if differs, let since = tracker.differingSince, now.timeIntervalSince(since) >= settle {
            // The new lifetime stayed: it is the policy now.
            tracker = LifetimeTracker(baseline: Int32(clamping: lifetime))
            if firing {
                self.resolve(name, of: target, slot: &slot, now: now, into: &actions)
            }
        } else if differs, !firing, Int(tracker.differing) >= self.thresholds.confirmRuns {
            self.fire(
                name,
                of: target,
                severity: .warning,
                description: Text.lifetime(
                    lifetime,
                    baseline: Int(baseline),
                    tokens: Int(tracker.differing),
                    thresholds: self.thresholds
                ),
                startsAt: result.startedAt,
                slot: &slot,
                now: now,
                into: &actions
            )
        } else if !differs, firing, Int(tracker.within) >= self.thresholds.resolveAfter {
            self.resolve(name, of: target, slot: &slot, now: now, into: &actions)
        }
    }
}
