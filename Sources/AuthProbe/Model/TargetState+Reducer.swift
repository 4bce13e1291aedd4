import Foundation

extension TargetState {
    /// The state after `result`: pure, no I/O, so it is tested with sequences of results.
    public func applying(_ result: ProbeResult) -> TargetState {
        var state = self
        state.apply(result)
        return state
    }

    /// Applies one probe run of this target.
    public mutating func apply(_ result: ProbeResult) {
        precondition(result.target == self.key, "a result of \(result.target) applied to \(self.key)")
        let time = result.startedAt
        for step in result.steps {
            var entry =
                self.steps[step.step]
                ?? StepState(outcome: step.outcome, lastAttempt: time, consecutiveFailures: 0)
            entry.outcome = step.outcome
            entry.httpStatus = step.httpStatus
            entry.lastAttempt = time
            entry.timings = step.timings
            entry.current = true
            if step.succeeded {
                entry.lastSuccess = time
                entry.consecutiveFailures = 0
            } else if step.outcome.scope != .authprobe {
                entry.consecutiveFailures = min(entry.consecutiveFailures, Int.max - 1) + 1
            }
            // authprobe's own failure (out of file descriptors) did not measure the provider: its streak of
            // failures, which the provider-outage alert counts, neither grows nor ends.
            self.steps[step.step] = entry

            if let notAfter = step.tlsCertificateExpiry { self.tlsExpiry[step.step] = notAfter }
            if let skew = step.clockSkew, skew.isFinite { self.clockSkew = skew }
            self.conformance[step.step] = step.conformance
            switch step.step {
            case .token:
                if let lifetime = step.tokenLifetime { self.tokenLifetime = lifetime }
                self.tokenVerified = step.succeeded ? step.tokenVerified : nil
            case .jwks:
                if let keys = step.jwksKeys {
                    let fingerprint = step.jwksFingerprint.map(Self.digest)
                    var jwks = self.jwks ?? JWKSState(keys: keys, fingerprint: fingerprint)
                    if let fingerprint, let previous = jwks.fingerprint, previous != fingerprint {
                        jwks.lastRotation = time
                    }
                    jwks.keys = keys
                    jwks.fingerprint = fingerprint ?? jwks.fingerprint
                    self.jwks = jwks
                }
            case .discovery, .api:
                break
            }
        }
        if result.failure != nil {
            // Steps after the failed one were not attempted: what they last said is no longer current.
            let attempted = Set(result.steps.map(\.step))
            for step in self.steps.keys where !attempted.contains(step) {
                self.steps[step]?.current = false
            }
            if !attempted.contains(.token) { self.tokenVerified = nil }
        }
        self.lastRun = time
        self.lastRunSucceeded = result.succeeded
    }

    /// FNV-1a of the key ids: a rotation changes it, and no provider text is kept.
    static func digest(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
