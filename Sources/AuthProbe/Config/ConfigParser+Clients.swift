import Foundation
import Yams

/// Clients: id, auth method and which credentials it needs, scope, audience, extra form parameters, expiry.
extension ConfigParser {
    /// One client; `policy` (nil when the issuer is invalid) judges a URL `assertion_audience`.
    mutating func parseClient(_ node: Node, field: String, policy: EndpointPolicy?) -> ClientConfig? {
        guard let fields = self.mapping(node, field: field, keys: Self.clientKeys) else { return nil }
        let name = self.requiredLabel(fields, node: node, key: "name", field: field)
        var clientID: String?
        if let idNode = fields["client_id"] {
            if let text = self.string(idNode, field: "\(field).client_id") {
                clientID = self.expandVariables(text, node: idNode, field: "\(field).client_id")
                if clientID?.isEmpty == true {
                    self.fail(idNode, field: "\(field).client_id", "must not be empty")
                    clientID = nil
                }
            }
        } else {
            self.fail(node, field: "\(field).client_id", "required")
        }
        var authMethod = AuthMethod.clientSecretBasic
        var methodKnown = true
        if let methodNode = fields["auth_method"] {
            if let method: AuthMethod = self.choice(methodNode, field: "\(field).auth_method", kind: "method") {
                authMethod = method
            } else {
                methodKnown = false
            }
        }
        var secret: Secret?
        if authMethod.usesSecret {
            if methodKnown { secret = self.parseSecret(fields, node: node, field: field) }
        } else {
            for key in ["client_secret", "client_secret_file"] {
                if let extra = fields[key] {
                    self.fail(
                        extra,
                        field: "\(field).\(key)",
                        "not used with auth_method \(authMethod.rawValue); remove it"
                    )
                }
            }
        }
        var signingKey: SigningKey?
        if authMethod == .privateKeyJWT {
            signingKey = self.parseSigningKey(fields, node: node, field: field, policy: policy)
        } else {
            for key in Self.signingKeys {
                if let extra = fields[key] {
                    self.fail(extra, field: "\(field).\(key)", "only used with auth_method private_key_jwt")
                }
            }
        }
        let certificate = self.parseClientCertificate(fields, node: node, field: field)
        if authMethod == .tlsClientAuth, fields["tls_client_certificate_file"] == nil {
            self.fail(
                node,
                field: "\(field).tls_client_certificate_file",
                "required with auth_method tls_client_auth (and tls_client_key_file)"
            )
        }
        let scope = fields["scope"].flatMap { self.string($0, field: "\(field).scope") }
        let audience = fields["audience"].flatMap { self.string($0, field: "\(field).audience") }
        var parameters: [(name: String, value: String)] = []
        if let parametersNode = fields["parameters"] {
            parameters = self.parseParameters(parametersNode, field: "\(field).parameters")
        }
        var expiresAt: Date?
        if authMethod == .tlsClientAuth, let expiryNode = fields["expires_at"] {
            self.fail(
                expiryNode,
                field: "\(field).expires_at",
                "not used with auth_method tls_client_auth: the certificate's own expiry is read from its file"
            )
        } else if let expiryNode = fields["expires_at"],
            let text = self.string(expiryNode, field: "\(field).expires_at")
        {
            expiresAt = Self.parseTimestamp(text)
            if expiresAt == nil {
                self.fail(
                    expiryNode,
                    field: "\(field).expires_at",
                    "expected an RFC 3339 time such as 2027-03-01T00:00:00Z"
                )
            }
        }
        guard let name, let clientID, methodKnown else { return nil }
        guard secret != nil || !authMethod.usesSecret, signingKey != nil || authMethod != .privateKeyJWT,
            certificate != nil || authMethod != .tlsClientAuth
        else { return nil }
        var client = ClientConfig(
            name: name,
            clientID: clientID,
            secret: secret,
            authMethod: authMethod,
            scope: scope,
            audience: audience,
            parameters: parameters,
            expiresAt: expiresAt
        )
        client.signingKey = signingKey
        client.tlsClientCertificate = certificate
        return client
    }

    /// Form parameters authprobe sets itself, and where their value belongs instead.
    static let reservedParameters: [String: String] = [
        "grant_type": "set by authprobe itself (always client_credentials); remove it",
        "client_id": "set by authprobe itself; use the client's client_id key instead",
        "client_secret": "set by authprobe itself; use the client's client_secret or client_secret_file key instead",
        "scope": "set by authprobe itself; use the client's scope key instead",
        "audience": "set by authprobe itself; use the client's audience key instead",
    ]

    mutating func parseParameters(_ node: Node, field: String) -> [(name: String, value: String)] {
        guard case .mapping(let mapping) = node else {
            self.fail(node, field: field, "expected a mapping of form parameter names to values")
            return []
        }
        var result: [(name: String, value: String)] = []
        for (keyNode, valueNode) in mapping {
            let key = keyNode.string ?? ""
            if let problem = Self.reservedParameters[key] {
                self.fail(keyNode, field: "\(field).\(key)", problem)
                continue
            }
            if let value = self.string(valueNode, field: "\(field).\(key)") {
                result.append((key, value))
            }
        }
        return result
    }
}
