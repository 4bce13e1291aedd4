import Foundation

/// Pure functions from an HTTP response to a step result: the outcome taxonomy of DESIGN.md in one place.
///
/// Nothing here sees the network; the prober feeds it responses and tests feed it tables. A body is parsed as
/// it arrived; what a detail keeps of it are bounded fields only, each through the run's ``DetailCleaner``.
public enum ResponseClassifier {
    // MARK: - Shared HTTP status rules

    /// The outcome of a non-2xx status for a step that has no more specific rule.
    public static func statusOutcome(_ status: Int) -> Outcome {
        switch status {
        case 429: return .rateLimited
        case 300..<400: return .redirectError
        case 400..<500: return .http4xx
        case 500..<600: return .http5xx
        default: return .httpProtocolError
        }
    }

    /// `Retry-After` as delta-seconds or an HTTP date.
    public static func retryAfter(_ response: TransportResponse, now: Date) -> Duration? {
        guard let value = response.header("Retry-After")?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Int(value), seconds >= 0 { return .seconds(min(seconds, Self.longestRetryAfter)) }
        // A date is checked before any conversion: a date far in the future must not trap converting to Int.
        guard let date = HTTPDate.parse(value) else { return nil }
        let seconds = min(max(0, date.timeIntervalSince(now).rounded(.up)), Double(Self.longestRetryAfter))
        return .seconds(Int(seconds))
    }

    /// The longest `Retry-After` kept, in seconds (a week); the scheduler caps the wait further.
    static let longestRetryAfter = 7 * 86_400

    static func httpFailure(_ step: Step, _ response: TransportResponse, now: Date) -> StepResult {
        var detail = "HTTP \(response.status)"
        if (300..<400).contains(response.status) {
            // The header's name, not its value: a Location may carry anything the provider received.
            detail +=
                response.header("Location") == nil ? " redirect without Location header" : " redirect (Location header)"
        }
        return StepResult(
            step: step,
            outcome: Self.statusOutcome(response.status),
            httpStatus: response.status,
            detail: detail,
            retryAfter: Self.retryAfter(response, now: now)
        )
    }

    // MARK: - JSON

    /// A JSON object body, or the reason it is not one.
    static func jsonObject(_ body: [UInt8]) -> Result<[String: Any], BodyProblem> {
        guard !body.isEmpty else { return .failure(BodyProblem(reason: "empty body")) }
        guard let value = try? JSONSerialization.jsonObject(with: Data(body)) else {
            return .failure(BodyProblem(reason: "body is not JSON"))
        }
        guard let object = value as? [String: Any] else {
            return .failure(BodyProblem(reason: "body is JSON but not an object"))
        }
        return .success(object)
    }

    /// Why a body is not the JSON object a step expects.
    struct BodyProblem: Error {
        var reason: String
    }

    // MARK: - Discovery

    /// The endpoints discovery yields for the next steps.
    public struct Discovery: Sendable, Equatable {
        public var tokenEndpoint: String
        public var jwksURI: String
    }

    /// Classifies the discovery response against the configured issuer.
    public static func discovery(
        _ response: TransportResponse,
        environment: EnvironmentConfig,
        authMethod: AuthMethod? = nil,
        now: Date,
        cleaner: DetailCleaner = DetailCleaner()
    ) -> (result: StepResult, discovery: Discovery?) {
        guard response.status == 200 else { return (Self.httpFailure(.discovery, response, now: now), nil) }
        var result = StepResult(step: .discovery, outcome: .success, httpStatus: 200)
        let object: [String: Any]
        switch Self.jsonObject(response.body) {
        case .failure(let problem):
            result.outcome = .invalidJSON
            result.detail = "discovery document: \(problem.reason)"
            return (result, nil)
        case .success(let value):
            object = value
        }
        guard let issuer = object["issuer"] as? String else {
            result.outcome = .discoveryInvalid
            result.detail = "discovery document has no issuer"
            return (result, nil)
        }
        // OpenID Connect Discovery §4.3: identical, character for character (a trailing slash counts), because
        // clients compare the `iss` of every token with it.
        if issuer != environment.issuer {
            result.outcome = .issuerMismatch
            result.detail = "discovery issuer \(cleaner.quote(issuer)) is not the configured \"\(environment.issuer)\""
            return (result, nil)
        }
        var problems: [String] = []
        let tokenEndpoint = Self.endpoint(object, "token_endpoint", environment: environment, problems: &problems)
        let jwksURI = Self.endpoint(object, "jwks_uri", environment: environment, problems: &problems)
        guard problems.isEmpty, let tokenEndpoint, let jwksURI else {
            result.outcome = .discoveryInvalid
            result.detail = problems.joined(separator: "; ")
            return (result, nil)
        }
        Self.checkDiscovery(object, authMethod: authMethod, into: &result)
        result.detail = "token_endpoint \(cleaner.url(tokenEndpoint))"
        return (result, Discovery(tokenEndpoint: tokenEndpoint, jwksURI: jwksURI))
    }

    private static let discoveryRequired = [
        "issuer", "jwks_uri", "token_endpoint", "response_types_supported", "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ]

    /// Conformance of a usable discovery document: information, never a failed step.
    private static func checkDiscovery(_ object: [String: Any], authMethod: AuthMethod?, into result: inout StepResult)
    {
        let missing = Self.discoveryRequired.filter { object[$0] == nil }
        result.conformance.check(.discoveryRequiredFields, missing.isEmpty)
        if !missing.isEmpty { result.notes.append("discovery lacks \(missing.joined(separator: ", "))") }
        let plain = object.filter { $0.key.hasSuffix("_endpoint") || $0.key.hasSuffix("_uri") }
            .compactMap { ($0.value as? String).flatMap { $0.lowercased().hasPrefix("https://") ? nil : $0 } }
        result.conformance.check(.endpointsHTTPS, plain.isEmpty)
        // glewlwyd and others omit it although they issue such tokens: information, not failure.
        let grants = object["grant_types_supported"] as? [String] ?? ["authorization_code", "implicit"]
        result.conformance.check(.grantTypeAdvertised, grants.contains("client_credentials"))
        if !grants.contains("client_credentials") {
            result.notes.append("grant_types_supported does not list client_credentials")
        }
        if let authMethod {
            let methods = object["token_endpoint_auth_methods_supported"] as? [String] ?? ["client_secret_basic"]
            result.conformance.check(.authMethodAdvertised, methods.contains(authMethod.rawValue))
            if !methods.contains(authMethod.rawValue) {
                result.notes.append("token_endpoint_auth_methods_supported does not list \(authMethod.rawValue)")
            }
        }
    }

    private static func endpoint(
        _ object: [String: Any],
        _ key: String,
        environment: EnvironmentConfig,
        problems: inout [String]
    ) -> String? {
        guard let value = object[key] as? String, !value.isEmpty else {
            problems.append("\(key) is missing")
            return nil
        }
        guard value.utf8.count <= RequestTarget.longestURL else {
            problems.append("\(key) is longer than \(RequestTarget.longestURL) bytes")
            return nil
        }
        guard let target = RequestTarget.cached(value) else {
            problems.append("\(key) is not an http(s) URL")
            return nil
        }
        if !target.isTLS && !environment.allowsPlainHTTP(loopbackHost: target.isLoopback) {
            problems.append("\(key) uses plain http off loopback")
            return nil
        }
        return value
    }

    // MARK: - JWKS

    /// Classifies the JWKS response: a JSON object with a non-empty `keys` array of JWK objects.
    public static func jwks(_ response: TransportResponse, now: Date) -> StepResult {
        guard response.status == 200 else { return Self.httpFailure(.jwks, response, now: now) }
        var result = StepResult(step: .jwks, outcome: .success, httpStatus: 200)
        switch Self.jsonObject(response.body) {
        case .failure(let problem):
            result.outcome = .invalidJSON
            result.detail = "JWKS: \(problem.reason)"
        case .success(let object):
            guard let keys = object["keys"] as? [Any] else {
                result.outcome = .jwksInvalid
                result.detail = "JWKS has no keys array"
                return result
            }
            let valid = keys.compactMap { $0 as? [String: Any] }.filter { $0["kty"] is String }
            if valid.count != keys.count {
                result.outcome = .jwksInvalid
                result.detail = "JWKS has \(keys.count - valid.count) entries without kty"
            } else if valid.isEmpty {
                result.outcome = .jwksInvalid
                result.detail = "JWKS has no keys"
            } else {
                result.detail = "\(valid.count) keys"
            }
            result.jwksKeys = valid.count
            // Only a fixed-size digest of the key ids is kept: a JWKS can name megabytes of them.
            let kids = valid.map { ($0["kid"] as? String) ?? "(no kid)" }.sorted().joined(separator: ",")
            result.jwksFingerprint = String(TargetState.digest(kids), radix: 16)
        }
        return result
    }

    // MARK: - Token

    private static let credentialCodes: [String: Outcome] = [
        "invalid_client": .invalidClient,
        "invalid_grant": .invalidGrant,
        "unauthorized_client": .unauthorizedClient,
        "invalid_scope": .invalidScope,
        "invalid_request": .invalidRequest,
        "unsupported_grant_type": .unsupportedGrantType,
    ]

    /// Classifies a token endpoint response (RFC 6749 §5.1 success, §5.2 errors, and the common deviations).
    /// `cleaner` knows the credentials sent and, for a 200, the access token received.
    public static func token(_ response: TransportResponse, now: Date, cleaner: DetailCleaner = DetailCleaner())
        -> StepResult
    {
        var result = StepResult(step: .token, outcome: .success, httpStatus: response.status)
        guard response.status == 200 else {
            return Self.tokenError(response, now: now, cleaner: cleaner)
        }
        let object: [String: Any]
        switch Self.jsonObject(response.body) {
        case .failure(let problem):
            result.outcome = .invalidJSON
            result.detail = "token response: \(problem.reason)"
            return result
        case .success(let value):
            object = value
        }
        var problems: [String] = []
        result.conformance.check(.errorCodeRegistered, true)
        if let token = object["access_token"] as? String, !token.isEmpty {
            // RFC 6750 b64token: anything else (CR, LF, spaces) cannot travel in an Authorization header.
            let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=")
            if !token.allSatisfy({ allowed.contains($0) }) {
                problems.append("access_token has characters a Bearer token cannot carry")
            }
        } else {
            problems.append("access_token is missing or empty")
        }
        switch object["token_type"] {
        case let type as String:
            let normalized = type.trimmingCharacters(in: .whitespaces)
            result.conformance.check(.tokenTypeBearer, type.lowercased() == "bearer")
            if normalized.lowercased() == "bearer" {
                // RFC 6749 §5.1: the value is case-insensitive, so lowercase is conformant.
            } else if normalized.lowercased() == "bearer:" {
                result.notes.append("token_type \"\(normalized)\" read as Bearer")
            } else {
                problems.append("token_type \(cleaner.quote(type)) is not Bearer")
            }
        default:
            problems.append("token_type is missing")
        }
        result.conformance.check(.tokenExpiresInNumeric, object["expires_in"] is NSNumber)
        result.conformance.check(
            .tokenCacheControlNoStore,
            response.header("Cache-Control")?.lowercased().contains("no-store") == true
        )
        switch object["expires_in"] {
        case let number as NSNumber:
            let value = number.doubleValue
            if value > 0, value == value.rounded(), value < Double(Int32.max) {
                result.tokenLifetime = Int(value)
            } else {
                problems.append("expires_in \(cleaner.quote("\(number)")) is not a positive integer")
            }
        case let text as String:
            if let value = Int(text.trimmingCharacters(in: .whitespaces)), value > 0 {
                result.tokenLifetime = value
                result.notes.append("expires_in is a string, not a number")
            } else {
                problems.append("expires_in \(cleaner.quote(text)) is not a positive integer")
            }
        case nil:
            problems.append("expires_in is missing")
        default:
            problems.append("expires_in is not a positive integer")
        }
        if !problems.isEmpty {
            result.outcome = .tokenResponseInvalid
            result.detail = problems.joined(separator: "; ")
            return result
        }
        result.detail = "token issued, expires_in \(result.tokenLifetime ?? 0)s"
        return result
    }

    /// The `access_token` of a successful token response, wrapped so that it never prints.
    public static func accessToken(_ response: TransportResponse) -> Secret? {
        guard case .success(let object) = Self.jsonObject(response.body),
            let token = object["access_token"] as? String, !token.isEmpty
        else { return nil }
        return Secret(token)
    }

    /// RFC 6749 §5.2 error codes a detail may name; any other is an ``unregisteredCode``.
    static let registeredCodes: Set<String> = Set(Self.credentialCodes.keys).union([
        "scope_invalid", "access_denied", "server_error", "temporarily_unavailable", "invalid_target",
        "invalid_dpop_proof", "use_dpop_nonce",
    ])

    /// What a detail says in place of an error code outside ``registeredCodes``.
    static let unregisteredCode = "(unregistered error code)"

    private static func tokenError(_ response: TransportResponse, now: Date, cleaner: DetailCleaner) -> StepResult {
        let status = response.status
        if status == 429 || status >= 500 || (300..<400).contains(status) {
            return Self.httpFailure(.token, response, now: now)
        }
        var result = StepResult(step: .token, outcome: .http4xx, httpStatus: status)
        if case .success(let object) = Self.jsonObject(response.body), let code = object["error"] as? String {
            // The code names itself only from the closed set; the description is cleaned and cut.
            let named = Self.registeredCodes.contains(code) ? code : Self.unregisteredCode
            let description = (object["error_description"] as? String).map { ": \(cleaner.quote($0))" } ?? ""
            result.conformance.check(.errorCodeRegistered, Self.credentialCodes[code] != nil)
            if let outcome = Self.credentialCodes[code] {
                result.outcome = outcome
            } else if code == "scope_invalid" {
                // glewlwyd's spelling of invalid_scope.
                result.outcome = .invalidScope
                result.notes.append("error code scope_invalid read as invalid_scope")
            } else if status == 401 {
                // RFC 6749 §5.2: 401 means client authentication failed, whatever the code says.
                result.outcome = .credentialRejected
            } else {
                result.outcome = .oauthError
            }
            result.detail = "HTTP \(status) error=\(named)\(description)"
            return result
        }
        if status == 401 || status == 403 {
            // No RFC 6749 body: glewlwyd answers every bad credential with 403 and nothing else.
            result.outcome = .credentialRejected
            result.detail = "HTTP \(status) without an OAuth error body"
            return result
        }
        result.detail = "HTTP \(status) without an OAuth error body"
        return result
    }
}
