/// The `environment` and `client` label values of a target (client is empty for discovery-only targets).
public struct TargetKey: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var environment: String
    public var client: String

    public init(environment: String, client: String) {
        self.environment = environment
        self.client = client
    }

    public static func < (lhs: TargetKey, rhs: TargetKey) -> Bool {
        (lhs.environment, lhs.client) < (rhs.environment, rhs.client)
    }

    public var description: String { self.client.isEmpty ? self.environment : "\(self.environment)/\(self.client)" }
}
