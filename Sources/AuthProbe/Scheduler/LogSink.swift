import Foundation
import Logging

/// One structured log line per run: a constant message, the data in dotted metadata.
/// Provider failures are expected events (info); authprobe's own faults are errors; success is debug.
public struct LogSink: ProbeResultSink {
    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func record(_ result: ProbeResult, state: TargetState) async {
        // Success is logged at debug: build nothing for a line that will not be written.
        if result.failure == nil, self.logger.logLevel > .debug { return }
        var metadata: Logger.Metadata = [
            "probe.environment": "\(result.target.environment)",
            "probe.client": "\(result.target.client)",
            "probe.duration_ms":
                "\(Self.milliseconds(result.steps.map { Durations.seconds($0.timings.total) }.reduce(0, +)))",
        ]
        guard let failure = result.failure else {
            if let lifetime = result.steps.last?.tokenLifetime {
                metadata["probe.token_lifetime_s"] = "\(lifetime)"
            }
            self.logger.debug("probe run succeeded", metadata: metadata)
            return
        }
        metadata["probe.step"] = "\(failure.step.rawValue)"
        metadata["probe.outcome"] = "\(failure.outcome.label)"
        metadata["probe.scope"] = "\(failure.outcome.scope.rawValue)"
        // The detail holds provider text (cleaned by the prober): quoted and escaped, so that no value can break
        // the line or pass for another key=value pair, and cut like the stored detail.
        metadata["probe.detail"] = "\(Self.quoted(StepResult.capped(failure.detail)))"
        if let status = failure.httpStatus { metadata["probe.http_status"] = "\(status)" }
        // Provider failures are expected events; authprobe's own (out of file descriptors) needs its operator.
        let level: Logger.Level = failure.outcome.scope == .authprobe ? .error : .info
        self.logger.log(level: level, "probe run failed", metadata: metadata)
    }

    /// `text` as one double-quoted value: `"` and `\\` escaped, line breaks and other controls (C0, DEL, C1, the
    /// Unicode line separators) written as escapes, so a log line stays one line and its pairs stay its own.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if DetailCleaner.isStripped(scalar) {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func milliseconds(_ seconds: Double) -> String {
        String(format: "%.1f", seconds * 1000)
    }
}
