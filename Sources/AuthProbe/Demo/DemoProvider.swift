import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// A small OpenID provider for `authprobe demo`: discovery, a JWKS and a client-credentials token
/// endpoint that answers like a standards-following provider (RFC 6749 §5.1/§5.2), on loopback.
///
/// It knows a set of clients; a client marked disabled is answered with `401 invalid_client`, as a
/// revoked credential would be.
public struct DemoProvider: Sendable {
    /// One client the provider accepts (or, when disabled, rejects).
    public struct Client: Sendable {
        public var id: String
        public var secret: Secret
        public var enabled: Bool

        public init(id: String, secret: Secret, enabled: Bool = true) {
            self.id = id
            self.secret = secret
            self.enabled = enabled
        }
    }

    public let port: Int
    public let clients: [Client]
    public let tokenLifetime: Int

    public init(port: Int, clients: [Client], tokenLifetime: Int = 3600) {
        self.port = port
        self.clients = clients
        self.tokenLifetime = tokenLifetime
    }

    /// `http://127.0.0.1:<port>` — no trailing slash, like the issuers of many providers.
    public var issuer: String { "http://127.0.0.1:\(self.port)" }

    /// An RSA public key (no private part exists anywhere): the demo issues opaque tokens.
    static let jwks = #"""
        {"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":"authprobe-demo-1","e":"AQAB","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw"}]}
        """#

    /// The router; exposed so tests can serve it too.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        let issuer = self.issuer
        router.get("/.well-known/openid-configuration") { _, _ -> Response in
            let document: [String: Any] = [
                "issuer": issuer,
                "token_endpoint": "\(issuer)/token",
                "jwks_uri": "\(issuer)/jwks",
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "response_types_supported": ["token"],
            ]
            return Self.json(.ok, try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]))
        }
        router.get("/jwks") { _, _ -> Response in
            Self.json(.ok, Data(Self.jwks.utf8))
        }
        router.post("/token") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 64 * 1024)
            return self.token(authorization: request.headers[.authorization], form: String(buffer: body))
        }
        return router
    }

    /// The HTTP service on 127.0.0.1:`port`.
    public func application(logger: Logger) -> some Service {
        Application(
            router: self.router(),
            configuration: ApplicationConfiguration(
                address: .hostname("127.0.0.1", port: self.port),
                serverName: "authprobe-demo-idp"
            ),
            logger: logger
        )
    }

    private func token(authorization: String?, form: String) -> Response {
        let fields = FormEncoding.decode(form)
        guard fields["grant_type"] == "client_credentials" else {
            return Self.oauthError(.badRequest, "unsupported_grant_type")
        }
        var credentials: (id: String, secret: String)?
        if let authorization, authorization.lowercased().hasPrefix("basic "),
            let decoded = Data(base64Encoded: String(authorization.dropFirst(6))).flatMap({
                String(data: $0, encoding: .utf8)
            }),
            let colon = decoded.firstIndex(of: ":")
        {
            credentials = (
                FormEncoding.decodeComponent(String(decoded[..<colon])),
                FormEncoding.decodeComponent(String(decoded[decoded.index(after: colon)...]))
            )
        } else if let id = fields["client_id"], let secret = fields["client_secret"] {
            credentials = (id, secret)
        }
        guard let credentials,
            let client = self.clients.first(where: { $0.id == credentials.id }),
            client.enabled,
            client.secret.withRawValue({ $0 == credentials.secret })
        else {
            var response = Self.oauthError(.unauthorized, "invalid_client")
            response.headers[.wwwAuthenticate] = "Basic realm=\"authprobe-demo\""
            return response
        }
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let document: [String: Any] = ["access_token": token, "token_type": "Bearer", "expires_in": self.tokenLifetime]
        var response = Self.json(.ok, (try? JSONSerialization.data(withJSONObject: document)) ?? Data())
        response.headers[.cacheControl] = "no-store"
        return response
    }

    private static func oauthError(_ status: HTTPResponse.Status, _ code: String) -> Response {
        self.json(status, Data(#"{"error":"\#(code)"}"#.utf8))
    }

    private static func json(_ status: HTTPResponse.Status, _ data: Data) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}

extension FormEncoding {
    /// Decodes an `application/x-www-form-urlencoded` body into its fields (the last value of a repeated name wins).
    public static func decode(_ form: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in form.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = self.decodeComponent(String(parts[0]))
            fields[name] = parts.count > 1 ? self.decodeComponent(String(parts[1])) : ""
        }
        return fields
    }

    /// `+` is a space, `%XX` a byte.
    public static func decodeComponent(_ text: String) -> String {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? text
    }
}
