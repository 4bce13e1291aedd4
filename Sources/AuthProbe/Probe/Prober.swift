import Foundation
import Logging

/// Runs one probe of one target: discovery → JWKS → token, each step timed and classified.
///
/// A probe is one attempt that returns a value: no retries, no throws. The first failed step ends the run.
/// The client secret is read only while the token request is built, and by the run's ``DetailCleaner``, which
/// keeps it (and the client assertion and the issued token) out of every detail and note.
public struct Prober: Sendable {
    private let transport: any HTTPTransport
    private let now: @Sendable () -> Date

    public init(transport: any HTTPTransport, now: @escaping @Sendable () -> Date = { Date() }) {
        self.transport = transport
        self.now = now
    }

    /// Probes `target` once; `requestToken: false` stops after the JWKS (the token is not due yet).
    public func probe(_ target: ProbeTarget, requestToken: Bool = true) async -> ProbeResult {
        let (walked, cleaner) = await self.walk(target, requestToken: requestToken)
        var result = walked
        // Known harmless vendor quirks of this environment are noted, not reported as violations.
        let allowed = target.environment.conformanceAllow
        for index in result.steps.indices where !result.steps[index].conformance.violated.isDisjoint(with: allowed) {
            let accepted = result.steps[index].conformance.violated.intersection(allowed)
            result.steps[index].conformance.violated.subtract(accepted)
            result.steps[index].notes.append("allowed: \(accepted.map(\.rawValue).sorted().joined(separator: ", "))")
        }
        // The last pass: whatever reached a detail or a note, no credential of the run leaves in it, and no
        // detail is longer than the store and the log keep.
        for index in result.steps.indices {
            result.steps[index].detail = cleaner.scrub(result.steps[index].detail)
            result.steps[index].notes = result.steps[index].notes.map(cleaner.scrub)
        }
        return result
    }

    /// The run, and the cleaner that knows every credential it used (secret, assertion, issued token).
    private func walk(_ target: ProbeTarget, requestToken: Bool) async -> (ProbeResult, DetailCleaner) {
        let startedAt = self.now()
        var steps: [StepResult] = []
        let environment = target.environment
        let policy = environment.endpointPolicy
        var cleaner = DetailCleaner(
            credentials: [target.client?.secret].compactMap { $0 },
            clientID: target.client?.clientID
        )
        func done() -> (ProbeResult, DetailCleaner) {
            (ProbeResult(target: target.key, startedAt: startedAt, steps: steps), cleaner)
        }

        let (discoveryResult, discovery) = await self.discover(
            environment,
            authMethod: target.client?.authMethod,
            policy: policy,
            cleaner: cleaner
        )
        steps.append(discoveryResult)
        guard let discovery else { return done() }

        let (jwksResult, jwksBody) = await self.fetchJWKS(
            discovery.jwksURI,
            environment: environment,
            policy: policy,
            cleaner: cleaner
        )
        steps.append(jwksResult)
        guard jwksResult.succeeded else { return done() }

        if let client = target.client, requestToken {
            let (tokenResult, accessToken, tokenCleaner) = await self.requestToken(
                discovery.tokenEndpoint,
                client: client,
                environment: environment,
                policy: policy,
                jwks: jwksBody,
                cleaner: cleaner
            )
            cleaner = tokenCleaner
            steps.append(tokenResult)
            if let check = environment.apiCheck, let accessToken {
                steps.append(
                    await self.callAPI(
                        check,
                        token: accessToken,
                        environment: environment,
                        policy: policy,
                        cleaner: cleaner
                    )
                )
            }
        }
        return done()
    }

    private func discover(
        _ environment: EnvironmentConfig,
        authMethod: AuthMethod?,
        policy: EndpointPolicy,
        cleaner: DetailCleaner
    ) async -> (StepResult, ResponseClassifier.Discovery?) {
        let request = TransportRequest(
            method: "GET",
            url: environment.discoveryURL,
            headers: [("Accept", "application/json")],
            connection: environment.connection
        )
        let (exchange, hops) = await self.get(
            request,
            timeout: environment.timeout,
            policy: policy,
            cleaner: cleaner
        )
        switch exchange.result {
        case .failure(let failure):
            return (Self.transportResult(.discovery, failure, exchange), nil)
        case .success(let response):
            var (result, discovery) = ResponseClassifier.discovery(
                response,
                environment: environment,
                authMethod: authMethod,
                now: self.now(),
                cleaner: cleaner
            )
            result.timings = exchange.timings
            result.notes += hops
            result.tlsCertificateExpiry = exchange.certificateNotAfter
            result.clockSkew = HTTPDate.skew(response, arrivedAt: self.now())
            return (result, discovery)
        }
    }

    /// The JWKS step, and the key set's JSON for verifying this run's token.
    private func fetchJWKS(
        _ url: String,
        environment: EnvironmentConfig,
        policy: EndpointPolicy,
        cleaner: DetailCleaner
    ) async -> (StepResult, String?) {
        if let refusal = policy.refusal(url, for: .fetch) {
            return (Self.notAllowed(.jwks, "jwks_uri", url, refusal, cleaner), nil)
        }
        let request = TransportRequest(
            method: "GET",
            url: url,
            headers: [("Accept", "application/json")],
            connection: environment.connection
        )
        let (exchange, hops) = await self.get(
            request,
            timeout: environment.timeout,
            policy: policy,
            cleaner: cleaner
        )
        switch exchange.result {
        case .failure(let failure):
            return (Self.transportResult(.jwks, failure, exchange), nil)
        case .success(let response):
            var result = ResponseClassifier.jwks(response, now: self.now())
            result.timings = exchange.timings
            result.notes += hops
            result.tlsCertificateExpiry = exchange.certificateNotAfter
            result.clockSkew = HTTPDate.skew(response, arrivedAt: self.now())
            return (result, result.succeeded ? String(decoding: response.body, as: UTF8.self) : nil)
        }
    }

    /// TLS alerts with which a server refuses the client certificate it was shown.
    static let clientCertificateAlerts: Set<String> = [
        "TLSV1_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_BAD_CERTIFICATE", "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_REVOKED", "SSLV3_ALERT_CERTIFICATE_EXPIRED", "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "TLSV1_ALERT_UNKNOWN_CA", "TLSV1_ALERT_ACCESS_DENIED",
    ]

    /// The token step, the issued access token when it succeeded (held only for this run's API step), and the
    /// cleaner that also knows the client assertion and the access token.
    private func requestToken(
        _ url: String,
        client: ClientConfig,
        environment: EnvironmentConfig,
        policy: EndpointPolicy,
        jwks: String?,
        cleaner: DetailCleaner
    ) async -> (StepResult, Secret?, DetailCleaner) {
        // The provider does not decide where a credential goes: checked before anything is signed or sent.
        if let refusal = policy.refusal(url, for: .credential) {
            return (Self.notAllowed(.token, "token_endpoint", url, refusal, cleaner), nil, cleaner)
        }
        if client.authMethod == .privateKeyJWT, let audience = client.signingKey?.audience,
            let refusal = policy.assertionAudienceRefusal(audience)
        {
            // The audience is configured, not the provider's: no provider text to withhold.
            return (Self.notAllowed(.token, "assertion_audience", audience, refusal, DetailCleaner()), nil, cleaner)
        }
        var assertion: Secret?
        if client.authMethod == .privateKeyJWT, let key = client.signingKey {
            do {
                assertion = try await ClientAssertion.sign(
                    clientID: client.clientID,
                    audience: key.audience ?? url,
                    key: key,
                    now: self.now()
                )
            } catch {
                let detail = "cannot sign the client assertion: \(error)"
                return (StepResult(step: .token, outcome: .clientAssertionError, detail: detail), nil, cleaner)
            }
        }
        // From here on the assertion is a credential of the run too.
        let sent = cleaner.adding(assertion)
        var request = TokenRequest.make(endpoint: url, client: client, assertion: assertion)
        request.connection = environment.connection
        // The client certificate authenticates the client: presented to the token endpoint only.
        request.connection.clientCertificate = client.tlsClientCertificate
        let exchange = await self.transport.send(request, timeout: environment.timeout)
        switch exchange.result {
        case .failure(var failure):
            if client.tlsClientCertificate != nil, let alert = failure.tlsAlert,
                Self.clientCertificateAlerts.contains(alert)
            {
                // The token endpoint refused the client certificate: the credential, not the provider.
                failure = TransportFailure(
                    outcome: .credentialRejected,
                    detail: "TLS: the token endpoint refused the client certificate (\(alert))",
                    tlsAlert: alert
                )
            }
            return (Self.transportResult(.token, failure, exchange), nil, sent)
        case .success(let response):
            // The body is classified as it arrived: a provider may echo what it received, and only the bounded
            // fields the classifier keeps pass the cleaner, which knows every credential of the exchange.
            let issued = response.status == 200 ? ResponseClassifier.accessToken(response) : nil
            let received = sent.adding(issued)
            var result = ResponseClassifier.token(response, now: self.now(), cleaner: received)
            result.timings = exchange.timings
            result.tlsCertificateExpiry = exchange.certificateNotAfter
            result.clockSkew = HTTPDate.skew(response, arrivedAt: self.now())
            guard result.succeeded, let token = issued else { return (result, nil, received) }
            guard environment.verifyAccessToken else {
                result.notes.append("access token not inspected (verify_access_token: false)")
                return (result, token, received)
            }
            if let jwks,
                let inspection = await TokenInspector.inspect(
                    token: token,
                    jwks: jwks,
                    issuer: environment.issuer,
                    expiresIn: result.tokenLifetime,
                    receivedAt: self.now(),
                    cleaner: received
                )
            {
                result.outcome = inspection.outcome
                result.detail = inspection.succeededDetail(after: result.detail)
                // iat is the provider's own statement of its time: better than the Date header's whole seconds.
                result.clockSkew = inspection.clockSkew ?? result.clockSkew
                result.tokenVerified = inspection.verified
                result.notes += inspection.notes
            }
            return (result, result.succeeded ? token : nil, received)
        }
    }

    /// The API step: the protected call a real client makes with the token. Any failure of the API itself,
    /// transport included, is `api_error` (or `api_rejected` for 401/403), so that it never reads as the
    /// identity provider's fault.
    private func callAPI(
        _ check: APICheck,
        token: Secret,
        environment: EnvironmentConfig,
        policy: EndpointPolicy,
        cleaner: DetailCleaner
    ) async -> StepResult {
        if let refusal = policy.refusal(check.url, for: .fetch) {
            // Configured, so check-config refuses it first; an API problem all the same, never the provider's.
            let detail = "\(Outcome.endpointNotAllowed.label): api_check.url refused: \(refusal)"
            return StepResult(step: .api, outcome: .apiError, detail: detail)
        }
        // RFC 6750: the scheme is "Bearer", whatever case the provider wrote token_type in.
        let authorization = token.withRawValue { "Bearer \($0)" }
        let request = TransportRequest(
            method: "GET",
            url: check.url,
            headers: [("Authorization", authorization), ("Accept", "application/json")],
            connection: environment.connection
        )
        let (exchange, hops) = await self.get(
            request,
            timeout: environment.timeout,
            policy: policy,
            cleaner: cleaner
        )
        var result = StepResult(step: .api, outcome: .success, timings: exchange.timings, notes: hops)
        result.tlsCertificateExpiry = exchange.certificateNotAfter
        switch exchange.result {
        case .failure(let failure) where failure.outcome.scope == .authprobe:
            // authprobe's own fault stays its own: not the API's either.
            result.outcome = failure.outcome
            result.detail = failure.detail
        case .failure(let failure):
            result.outcome = .apiError
            result.detail = "\(failure.outcome.label): \(failure.detail)"
        case .success(let response):
            result.httpStatus = response.status
            if response.status == check.expectStatus {
                result.detail = "HTTP \(response.status)"
            } else {
                result.outcome = response.status == 401 || response.status == 403 ? .apiRejected : .apiError
                result.detail = "HTTP \(response.status), expected \(check.expectStatus)"
            }
        }
        return result
    }

    /// A GET that follows safe redirects (``RedirectPolicy`` under the environment's ``EndpointPolicy``) within
    /// one deadline. The timings add up the hops, phase by phase, so a redirect's cost stays visible; the notes
    /// say where it went (a Location passes the run's cleaner). A redirect target is judged before it is
    /// contacted: a refused one never is.
    private func get(
        _ request: TransportRequest,
        timeout: Duration,
        policy: EndpointPolicy,
        cleaner: DetailCleaner
    ) async -> (HTTPExchange, [String]) {
        var request = request
        var notes: [String] = []
        var spent = PhaseTimings()
        while true {
            var exchange = await self.transport.send(request, timeout: max(timeout - spent.total, .milliseconds(1)))
            spent = Self.adding(spent, exchange.timings)
            exchange.timings = spent
            guard case .success(let response) = exchange.result, RedirectPolicy.statuses.contains(response.status)
            else { return (exchange, notes) }
            guard notes.count < RedirectPolicy.maximumRedirects else {
                notes.append("more than \(RedirectPolicy.maximumRedirects) redirects")
                return (exchange, notes)
            }
            switch RedirectPolicy.target(from: request.url, location: response.header("Location"), policy: policy) {
            case .failure(let refused):
                notes.append(refused.note(cleaner))
                return (exchange, notes)
            case .success(let next):
                notes.append("followed HTTP \(response.status) redirect to \(cleaner.url(next))")
                if RequestTarget(parsing: next)?.origin != RequestTarget(parsing: request.url)?.origin {
                    // Like curl: credentials never follow a redirect to another origin.
                    request.headers.removeAll { $0.name.lowercased() == "authorization" }
                }
                request.url = next
            }
        }
    }

    private static func adding(_ a: PhaseTimings, _ b: PhaseTimings) -> PhaseTimings {
        func sum(_ x: Duration?, _ y: Duration?) -> Duration? {
            x == nil && y == nil ? nil : (x ?? .zero) + (y ?? .zero)
        }
        return PhaseTimings(
            dns: sum(a.dns, b.dns),
            connect: sum(a.connect, b.connect),
            tls: sum(a.tls, b.tls),
            processing: sum(a.processing, b.processing),
            transfer: sum(a.transfer, b.transfer),
            total: a.total + b.total
        )
    }

    /// `endpoint_not_allowed`: the step's request was not sent (no timings, no status).
    private static func notAllowed(
        _ step: Step,
        _ name: String,
        _ url: String,
        _ refusal: String,
        _ cleaner: DetailCleaner
    ) -> StepResult {
        StepResult(
            step: step,
            outcome: .endpointNotAllowed,
            detail: "\(name) \(cleaner.url(url)) not used: \(refusal); nothing was sent"
        )
    }

    private static func transportResult(_ step: Step, _ failure: TransportFailure, _ exchange: HTTPExchange)
        -> StepResult
    {
        var result = StepResult(step: step, outcome: failure.outcome, timings: exchange.timings, detail: failure.detail)
        result.tlsCertificateExpiry = exchange.certificateNotAfter
        return result
    }
}

/// Builds the client-credentials token request (RFC 6749 §4.4, client authentication §2.3.1).
public enum TokenRequest {
    /// The POST for `client`. The only place the secret's raw value is read. `assertion` is the signed
    /// client assertion of a `private_key_jwt` client.
    public static func make(endpoint: String, client: ClientConfig, assertion: Secret? = nil) -> TransportRequest {
        var form: [(String, String)] = [("grant_type", "client_credentials")]
        if let scope = client.scope { form.append(("scope", scope)) }
        if let audience = client.audience { form.append(("audience", audience)) }
        form += client.parameters.map { ($0.name, $0.value) }
        var headers: [(name: String, value: String)] = [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Accept", "application/json"),
        ]
        switch client.authMethod {
        case .clientSecretBasic:
            // §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded.
            let credentials = (client.secret ?? Secret("")).withRawValue { secret in
                "\(FormEncoding.encode(client.clientID)):\(FormEncoding.encode(secret))"
            }
            headers.append(("Authorization", "Basic " + Data(credentials.utf8).base64EncodedString()))
        case .clientSecretPost:
            form.append(("client_id", client.clientID))
            client.secret?.withRawValue { form.append(("client_secret", $0)) }
        case .privateKeyJWT:
            // RFC 7523 §2.2; client_id is optional there, and helps providers that look the client up first.
            form.append(("client_id", client.clientID))
            form.append(("client_assertion_type", ClientAssertion.type))
            assertion?.withRawValue { form.append(("client_assertion", $0)) }
        case .tlsClientAuth:
            // RFC 8705 §2: the certificate is the credential; client_id says whose it is.
            form.append(("client_id", client.clientID))
        }
        return TransportRequest(
            method: "POST",
            url: endpoint,
            headers: headers,
            body: Array(FormEncoding.encode(form).utf8)
        )
    }
}

/// `application/x-www-form-urlencoded` as HTML and RFC 6749 Appendix B define it.
public enum FormEncoding {
    /// Encodes one value: unreserved characters stay, space becomes `+`, everything else is percent-encoded.
    public static func encode(_ value: String) -> String {
        String(decoding: Self.encode(Array(value.utf8)), as: UTF8.self)
    }

    /// ``encode(_:)`` on UTF-8 bytes.
    static func encode(_ bytes: [UInt8]) -> [UInt8] {
        DetailCleaner.percentEncoded(
            bytes,
            keep: DetailCleaner.formUnreserved,
            space: [0x2B],
            digits: DetailCleaner.upperHex
        )
    }

    /// Encodes name/value pairs joined by `&`.
    public static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
    }
}
