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

/// The rules one step checked, and which of them the provider broke.
public struct ConformanceReport: Sendable, Equatable, Codable {
    public var checked: Set<ConformanceRule> = []
    public var violated: Set<ConformanceRule> = []

    public init() {}

    /// Records one check; `detail` explains a violation in the step's notes.
    mutating func check(_ rule: ConformanceRule, _ conforms: Bool) {
        self.checked.insert(rule)
        if !conforms { self.violated.insert(rule) }
    }
}
