/// A bounded specification check; its `rawValue` is the `rule` metric label.
///
/// A violation is information, not a failed probe (unless authprobe cannot proceed, which the step's
/// outcome already says): providers deviate in harmless ways, and `conformance_allow` lists the accepted ones.
public enum ConformanceRule: String, Sendable, CaseIterable, Codable {
    /// OpenID Connect Discovery §3: issuer, token_endpoint (for this use), jwks_uri,
    /// response_types_supported, subject_types_supported, id_token_signing_alg_values_supported.
    case discoveryRequiredFields = "discovery_required_fields"
    /// Every endpoint in discovery is https.
    case endpointsHTTPS = "endpoints_https"
    /// `grant_types_supported` lists `client_credentials` (the default when absent does not).
    case grantTypeAdvertised = "grant_type_advertised"
    /// `token_endpoint_auth_methods_supported` lists the client's method (default: client_secret_basic).
    case authMethodAdvertised = "auth_method_advertised"
    /// RFC 6749 §5.1: the token response carries `Cache-Control: no-store`.
    case tokenCacheControlNoStore = "token_cache_control_no_store"
    /// RFC 6749 §5.1: `expires_in` is a JSON number.
    case tokenExpiresInNumeric = "token_expires_in_numeric"
    /// RFC 6749 §5.1 / RFC 6750: `token_type` is `Bearer` (case-insensitive).
    case tokenTypeBearer = "token_type_bearer"
    /// RFC 6749 §5.2: errors use the registered codes.
    case errorCodeRegistered = "error_code_registered"
}

/// The rules one step checked, and which of them the provider broke. Kept as two bit sets (a target's state
/// holds one per step, for thousands of targets); read and written as sets of rules.
public struct ConformanceReport: Sendable, Equatable {
    private var checkedBits: UInt32 = 0
    private var violatedBits: UInt32 = 0

    public init() {}

    /// The rules checked.
    public var checked: Set<ConformanceRule> {
        get { Self.rules(self.checkedBits) }
        set { self.checkedBits = Self.bits(newValue) }
    }

    /// The rules broken (a subset of ``checked``).
    public var violated: Set<ConformanceRule> {
        get { Self.rules(self.violatedBits) }
        set { self.violatedBits = Self.bits(newValue) }
    }

    /// Whether `rule` was checked, and broken.
    public func verdict(_ rule: ConformanceRule) -> (checked: Bool, violated: Bool) {
        let bit = Self.bit(rule)
        return (self.checkedBits & bit != 0, self.violatedBits & bit != 0)
    }

    /// Records one check; `detail` explains a violation in the step's notes.
    mutating func check(_ rule: ConformanceRule, _ conforms: Bool) {
        self.checkedBits |= Self.bit(rule)
        if !conforms { self.violatedBits |= Self.bit(rule) }
    }

    private static func bit(_ rule: ConformanceRule) -> UInt32 {
        1 << UInt32(ConformanceRule.allCases.firstIndex(of: rule)!)
    }

    private static func bits(_ rules: Set<ConformanceRule>) -> UInt32 {
        rules.reduce(0) { $0 | Self.bit($1) }
    }

    private static func rules(_ bits: UInt32) -> Set<ConformanceRule> {
        Set(ConformanceRule.allCases.filter { bits & Self.bit($0) != 0 })
    }
}

extension ConformanceReport: Codable {
    private enum CodingKeys: String, CodingKey {
        case checked, violated
    }

    /// Stored by rule name, so a stored state survives a new rule being added.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        self.checked = Set(try container.decode([String].self, forKey: .checked).compactMap(ConformanceRule.init))
        self.violated = Set(try container.decode([String].self, forKey: .violated).compactMap(ConformanceRule.init))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.checked.map(\.rawValue).sorted(), forKey: .checked)
        try container.encode(self.violated.map(\.rawValue).sorted(), forKey: .violated)
    }
}
