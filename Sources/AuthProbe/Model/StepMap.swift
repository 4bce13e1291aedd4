/// A value per step, kept inline: four optional slots instead of a dictionary, so that a target's state
/// carries no heap allocation per step map (thousands of targets hold several of these each).
public struct StepMap<Value> {
    private var discovery: Value?
    private var jwks: Value?
    private var token: Value?
    private var api: Value?

    public init() {}

    public subscript(step: Step) -> Value? {
        get {
            switch step {
            case .discovery: return self.discovery
            case .jwks: return self.jwks
            case .token: return self.token
            case .api: return self.api
            }
        }
        set {
            switch step {
            case .discovery: self.discovery = newValue
            case .jwks: self.jwks = newValue
            case .token: self.token = newValue
            case .api: self.api = newValue
            }
        }
    }

    /// The value of `step`, or `value` when there is none (which a mutation then stores).
    public subscript(step: Step, default value: @autoclosure () -> Value) -> Value {
        get { self[step] ?? value() }
        set { self[step] = newValue }
    }

    /// The steps that have a value, in step order.
    public var keys: [Step] { Step.allCases.filter { self[$0] != nil } }

    /// The values, in step order.
    public var values: [Value] { Step.allCases.compactMap { self[$0] } }

    public var isEmpty: Bool { self.keys.isEmpty }

    public var count: Int { self.keys.count }

    /// Only the values of `steps`.
    public func keeping(_ steps: Set<Step>) -> StepMap {
        var kept = StepMap()
        for step in Step.allCases where steps.contains(step) { kept[step] = self[step] }
        return kept
    }
}

extension StepMap: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (Step, Value)...) {
        self.init()
        for (step, value) in elements { self[step] = value }
    }
}

extension StepMap: Sendable where Value: Sendable {}
extension StepMap: Equatable where Value: Equatable {}

extension StepMap: Codable where Value: Codable {
    /// Stored as a JSON object keyed by step name.
    public init(from decoder: any Decoder) throws {
        self.init()
        let values = try [Step: Value](from: decoder)
        for (step, value) in values { self[step] = value }
    }

    public func encode(to encoder: any Encoder) throws {
        var values: [Step: Value] = [:]
        for step in self.keys { values[step] = self[step] }
        try values.encode(to: encoder)
    }
}
