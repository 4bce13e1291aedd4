import Foundation

/// Human and machine renderings of probe results for `authprobe probe`.
public enum ProbeReport {
    /// One line per step: target, step, outcome, HTTP status, phase timings in milliseconds, detail.
    public static func table(_ results: [ProbeResult]) -> String {
        let header =
            ["ENVIRONMENT", "CLIENT", "STEP", "OUTCOME", "HTTP"] + Phase.allCases.map { $0.rawValue.uppercased() }
            + ["TOTAL", "DETAIL"]
        var rows = [header]
        for result in results {
            for step in result.steps {
                var row = [
                    result.target.environment, result.target.client.isEmpty ? "-" : result.target.client,
                    step.step.rawValue, step.outcome.label, step.httpStatus.map(String.init) ?? "-",
                ]
                row += Phase.allCases.map { step.timings[$0].map(Self.milliseconds) ?? "-" }
                row += [Self.milliseconds(step.timings.total), Self.detail(step)]
                rows.append(row)
            }
        }
        return TextColumns.render(rows)
    }

    /// A JSON array with one object per run.
    public static func json(_ results: [ProbeResult]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(results.map(RunDocument.init)), as: UTF8.self)
    }

    private static func milliseconds(_ duration: Duration) -> String {
        String(format: "%.1fms", Durations.seconds(duration) * 1000)
    }

    /// The stored detail: cleaned by the prober, cut like the store cuts it.
    private static func detail(_ step: StepResult) -> String {
        step.summary
    }

    private struct RunDocument: Encodable {
        var environment: String
        var client: String
        var startedAt: Date
        var success: Bool
        var steps: [StepDocument]

        init(_ result: ProbeResult) {
            self.environment = result.target.environment
            self.client = result.target.client
            self.startedAt = result.startedAt
            self.success = result.succeeded
            self.steps = result.steps.map(StepDocument.init)
        }
    }

    private struct StepDocument: Encodable {
        var step: String
        var outcome: String
        var scope: String
        var httpStatus: Int?
        var phasesSeconds: [String: Double]
        var totalSeconds: Double
        var detail: String
        var notes: [String]
        var tokenLifetimeSeconds: Int?
        var jwksKeys: Int?

        init(_ step: StepResult) {
            self.step = step.step.rawValue
            self.outcome = step.outcome.label
            self.scope = step.outcome.scope.rawValue
            self.httpStatus = step.httpStatus
            var phases: [String: Double] = [:]
            for phase in Phase.allCases {
                if let value = step.timings[phase] { phases[phase.rawValue] = Durations.seconds(value) }
            }
            self.phasesSeconds = phases
            self.totalSeconds = Durations.seconds(step.timings.total)
            self.detail = StepResult.capped(step.detail)
            self.notes = step.notes.map { StepResult.capped($0) }
            self.tokenLifetimeSeconds = step.tokenLifetime
            self.jwksKeys = step.jwksKeys
        }
    }
}
