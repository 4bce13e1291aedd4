import Foundation

/// One attempt of discovery → JWKS → token for one environment×client. A value, never an error:
/// steps after a failed one are not attempted and so are absent.
public struct ProbeResult: Sendable {
    public var target: TargetKey
    /// When the run started.
    public var startedAt: Date
    /// The steps that were attempted, in order.
    public var steps: [StepResult]

    public init(target: TargetKey, startedAt: Date, steps: [StepResult]) {
        self.target = target
        self.startedAt = startedAt
        self.steps = steps
    }

    /// True when every step of the run was attempted and succeeded.
    public var succeeded: Bool { !self.steps.isEmpty && self.steps.allSatisfy(\.succeeded) }

    /// The first failed step, if any.
    public var failure: StepResult? { self.steps.first { !$0.succeeded } }
}
