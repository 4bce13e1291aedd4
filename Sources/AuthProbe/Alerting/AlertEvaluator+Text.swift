import Foundation

extension AlertEvaluator {
    /// The summaries and descriptions of the built-in alerts. Only authprobe's own words and bounded values: alert and
    /// outcome names, statuses, counts, thresholds, environment and client names, dates. Never a step's detail or
    /// notes, which may hold the provider's text.
    enum Text {
        /// One line: what is wrong, where.
        static func summary(_ key: AlertKey) -> String {
            let client = key.client
            let environment = key.environment
            switch key.name {
            case .credentialRejected: return "Credential \(client) for \(environment) rejected"
            case .tokenRequestRejected: return "Token request of \(client) for \(environment) refused"
            case .providerUnavailable: return "Identity provider \(environment) unavailable"
            case .tokenErrorBudget:
                return "Token requests of \(client) for \(environment) failing beyond the error budget"
            case .tokenLatencyHigh: return "Token requests of \(client) for \(environment) slow"
            case .jwksKeyMissing:
                return "Tokens of \(client) for \(environment) signed with a key missing from the JWKS"
            case .signatureInvalid: return "Token signatures of \(client) for \(environment) do not verify"
            case .credentialExpiringSoon: return "Credential \(client) for \(environment) expires soon"
            case .tlsCertificateExpiringSoon: return "TLS certificate of \(environment) expires soon"
            case .tokenLifetimeChanged: return "Token lifetime of \(client) for \(environment) changed"
            case .apiFailing: return "API check of \(client) for \(environment) failing"
            }
        }

        /// `credential_rejected (HTTP 403)`, `connect_refused (no HTTP response)`.
        static func outcome(_ outcome: Outcome?, status: Int?) -> String {
            guard let outcome else { return "no failure seen since the restart" }
            return "\(outcome.label) (\(status.map { "HTTP \($0)" } ?? "no HTTP response"))"
        }

        static func tokenStreak(_ name: AlertName, _ step: StepResult, attempts: Int, thresholds: AlertThresholds)
            -> String
        {
            let what: String
            switch name {
            case .credentialRejected: what = "The token endpoint rejected the credential"
            case .tokenRequestRejected: what = "The token endpoint refused the request"
            case .jwksKeyMissing: what = "Issued tokens name a key the JWKS does not publish"
            default: what = "Issued tokens' signatures do not verify against the JWKS"
            }
            let seen = self.outcome(step.outcome, status: step.httpStatus)
            return "\(what): \(seen) on \(attempts) token attempts in a row "
                + "(fires at \(thresholds.confirmRuns)). Resolves after \(thresholds.resolveAfter) successful token "
                + "requests in a row."
        }

        static func providerUnavailable(_ environment: EnvironmentSlot, thresholds: AlertThresholds)
            -> String
        {
            let failure = environment.lastFailure
            let what =
                failure.map { "\($0.step.rawValue) failed with \(self.outcome($0.outcome, status: $0.status))" }
                ?? "No provider failure seen since the restart"
            return "\(what); \(environment.down) of \(environment.targets) targets provider-down "
                + "(\(thresholds.providerFailures) runs in a row with a provider failure). Resolves when every target "
                + "has \(thresholds.resolveAfter) runs in a row without one."
        }

        static func budget(
            short: TokenWindow.Sums,
            long: TokenWindow.Sums,
            latest: Outcome?,
            status: Int?,
            _ thresholds: AlertThresholds
        ) -> String {
            let shortWindow = Durations.format(thresholds.shortWindow)
            let longWindow = Durations.format(thresholds.longWindow)
            return "\(short.failures) of \(short.attempts) token requests failed in the last \(shortWindow), "
                + "\(long.failures) of \(long.attempts) in the last \(longWindow): above "
                + "\(self.percent(thresholds.errorRatioThreshold)) in both (objective "
                + "\(self.percent(thresholds.tokenObjective)), burn rate \(thresholds.burnRate)). Latest failure: "
                + "\(self.outcome(latest, status: status)). Resolves when the last \(shortWindow) is back under "
                + "\(self.percent(thresholds.errorRatioThreshold)) and \(thresholds.resolveAfter) token requests in a "
                + "row succeeded."
        }

        static func latency(_ sums: TokenWindow.Sums, thresholds: AlertThresholds) -> String {
            "\(sums.slow) of \(sums.successes) successful token requests in the last "
                + "\(Durations.format(thresholds.latencyWindow)) took longer than "
                + "\(Durations.format(thresholds.latencyBound)) (fires above 5 % and at least "
                + "\(AlertEvaluator.latencyMinimumSlow)). Resolves when that no longer holds."
        }

        static func lifetime(_ lifetime: Int, baseline: Int, tokens: Int, thresholds: AlertThresholds) -> String {
            let minimum = Int(AlertEvaluator.lifetimeMinimumDifference)
            return "expires_in \(lifetime) s on \(tokens) tokens in a row, baseline \(baseline) s (tolerance "
                + "\(self.percent(thresholds.lifetimeTolerance)), at least \(minimum) s). "
                + "Resolves after \(thresholds.resolveAfter) tokens in a row back within tolerance, or once the new "
                + "lifetime has lasted \(Durations.format(thresholds.lifetimeSettle)) (it becomes the baseline)."
        }

        static func apiFailing(_ step: StepResult, attempts: Int, thresholds: AlertThresholds) -> String {
            let seen = self.outcome(step.outcome, status: step.httpStatus)
            return "The API check answered \(seen) on \(attempts) attempts in a row "
                + "(fires at \(thresholds.apiFailures)). Resolves after \(thresholds.resolveAfter) successful API "
                + "checks in a row."
        }

        static func credentialExpiry(_ kind: CredentialKind, _ expiresAt: Date, thresholds: AlertThresholds) -> String {
            "The client \(kind.rawValue) expires at \(expiresAt.ISO8601Format()) "
                + "\(self.expiryThresholds(thresholds)). Resolves when no configured expiry is that close."
        }

        static func tlsExpiry(_ shown: TLSExpiry?, thresholds: AlertThresholds) -> String {
            let what =
                shown.map {
                    "The TLS certificate of the \($0.step.rawValue) endpoint expires at \($0.expiresAt.ISO8601Format())"
                }
                ?? "A TLS certificate of the environment's endpoints expires soon"
            return
                "\(what) \(self.expiryThresholds(thresholds)). Resolves when no endpoint's certificate is that close."
        }

        private static func expiryThresholds(_ thresholds: AlertThresholds) -> String {
            "(warning within \(Durations.format(thresholds.expiryWarning)), critical within "
                + "\(Durations.format(thresholds.expiryCritical)))"
        }

        /// `14.4 %`, to a tenth of a percent.
        static func percent(_ fraction: Double) -> String {
            guard fraction.isFinite else { return "\(fraction)" }
            let tenths = Int((fraction * 1000).rounded())
            return "\(tenths / 10).\(abs(tenths % 10)) %"
        }
    }
}
