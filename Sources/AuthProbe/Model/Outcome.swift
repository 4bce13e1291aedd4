/// The bounded classification of one step's result; its `rawValue` is the `outcome` metric label.
///
/// The set may grow, but only with bounded names: never a message, a URL or a status text.
public enum Outcome: String, Sendable, CaseIterable, Codable {
    case success

    // Transport
    case dnsError = "dns_error"
    case connectRefused = "connect_refused"
    case connectTimeout = "connect_timeout"
    /// The connection failed or broke for another reason (unreachable, reset, closed early).
    case connectionError = "connection_error"
    case tlsError = "tls_error"
    case tlsCertificateExpired = "tls_certificate_expired"
    case tlsCertificateUntrusted = "tls_certificate_untrusted"
    case tlsHostnameMismatch = "tls_hostname_mismatch"
    case timeout
    /// The configured HTTP proxy could not be reached or refused to open the tunnel.
    case proxyError = "proxy_error"

    // authprobe itself
    /// authprobe ran out of file descriptors (EMFILE, ENFILE) or socket buffers opening the connection or
    /// looking up the name: its own fault, never the provider's.
    case localResourceExhausted = "local_resource_exhausted"

    // HTTP
    case http4xx = "http_4xx"
    case http5xx = "http_5xx"
    case rateLimited = "rate_limited"
    case redirectError = "redirect_error"
    case bodyTooLarge = "body_too_large"
    /// The peer did not speak valid HTTP/1.1.
    case httpProtocolError = "http_protocol_error"
    /// The provider named an endpoint authprobe will not send to (the token endpoint off the issuer's host, plain
    /// http from an https issuer, a link-local or metadata address); nothing was sent there.
    case endpointNotAllowed = "endpoint_not_allowed"

    // Documents
    case invalidJSON = "invalid_json"
    case discoveryInvalid = "discovery_invalid"
    case issuerMismatch = "issuer_mismatch"
    case jwksInvalid = "jwks_invalid"

    // OAuth (RFC 6749 §5.2)
    case invalidClient = "invalid_client"
    case invalidGrant = "invalid_grant"
    case unauthorizedClient = "unauthorized_client"
    case invalidScope = "invalid_scope"
    case invalidRequest = "invalid_request"
    case unsupportedGrantType = "unsupported_grant_type"
    case oauthError = "oauth_error"
    /// 401/403 from the token endpoint without an RFC 6749 error body.
    case credentialRejected = "credential_rejected"
    case tokenResponseInvalid = "token_response_invalid"
    /// The `private_key_jwt` client assertion could not be signed with the configured key.
    case clientAssertionError = "client_assertion_error"

    // Issued token and API
    case jwtInvalidSignature = "jwt_invalid_signature"
    case jwtUnknownKid = "jwt_unknown_kid"
    case jwtClaimsInvalid = "jwt_claims_invalid"
    case apiRejected = "api_rejected"
    case apiError = "api_error"

    /// The metric label value.
    public var label: String { self.rawValue }

    /// Who has to act on this outcome.
    public var scope: OutcomeScope {
        switch self {
        case .success:
            return .none
        case .invalidClient, .credentialRejected, .unauthorizedClient, .invalidGrant, .invalidScope,
            .clientAssertionError:
            return .credential
        case .invalidRequest, .unsupportedGrantType, .oauthError:
            return .request
        case .apiRejected, .apiError:
            return .api
        case .localResourceExhausted:
            return .authprobe
        default:
            return .provider
        }
    }
}

/// Whose problem an outcome is; the distinction on-call needs first.
public enum OutcomeScope: String, Sendable {
    /// Nothing is wrong.
    case none
    /// This credential is broken (revoked, rotated, disabled, lost its grant): page its owner.
    case credential
    /// The provider or the network is broken: every credential of the environment is affected.
    case provider
    /// The provider refused the request's shape (grant type, parameters): a configuration or policy change.
    case request
    /// The protected API refused or failed the call.
    case api
    /// authprobe itself could not make the request (out of file descriptors): fix the monitor's host, not the
    /// provider.
    case authprobe
}
