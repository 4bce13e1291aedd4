import Foundation

/// The private key a `private_key_jwt` client signs its client assertions with (RFC 7523 §2.2).
///
/// The key's PEM text is a ``Secret``: it prints as `<secret>` and is read only to sign an assertion.
public struct SigningKey: Sendable {
    /// JWS algorithms for client assertions; the key's type decides which apply.
    public typealias Algorithm = SigningAlgorithm

    /// The PEM private key (RSA, or EC P-256/P-384).
    public var pem: Secret
    public var algorithm: Algorithm
    /// The `kid` header of the assertions, when the provider knows the key by id.
    public var keyID: String?
    /// The assertion's `aud`; nil: the token endpoint URL, as RFC 7523 §3 recommends.
    public var audience: String?
    /// `notAfter` of the certificate found beside the key in its file, if any: when the key stops being valid.
    public var certificateNotAfter: Date?

    public init(
        pem: Secret,
        algorithm: Algorithm,
        keyID: String? = nil,
        audience: String? = nil,
        certificateNotAfter: Date? = nil
    ) {
        self.pem = pem
        self.algorithm = algorithm
        self.keyID = keyID
        self.audience = audience
        self.certificateNotAfter = certificateNotAfter
    }
}

/// A TLS client certificate presented to the token endpoint (mutual TLS, RFC 8705).
public struct ClientCertificate: Sendable, Equatable, Hashable {
    /// PEM certificate (chain) file.
    public var certificateFile: String
    /// PEM private key file of the certificate.
    public var keyFile: String
    /// `notAfter` of the (first) certificate, read when the configuration is loaded.
    public var notAfter: Date

    public init(certificateFile: String, keyFile: String, notAfter: Date) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.notAfter = notAfter
    }
}

/// What `authprobe_credential_expiry_timestamp_seconds{kind}` reports for a client.
public enum CredentialKind: String, Sendable, CaseIterable {
    /// The client secret (`expires_at`).
    case secret
    /// The TLS client certificate's `notAfter`.
    case certificate
    /// The private_key_jwt signing key (`expires_at`, or its certificate's `notAfter`, whichever is earlier).
    case key
}

extension ClientConfig {
    /// Each kind of credential this client uses whose expiry is known.
    public var credentialExpiries: [(kind: CredentialKind, expiresAt: Date)] {
        var expiries: [(kind: CredentialKind, expiresAt: Date)] = []
        if self.authMethod == .privateKeyJWT {
            let known = [self.expiresAt, self.signingKey?.certificateNotAfter].compactMap { $0 }
            if let earliest = known.min() { expiries.append((.key, earliest)) }
        } else if let expiresAt = self.expiresAt, self.secret != nil {
            expiries.append((.secret, expiresAt))
        }
        if let certificate = self.tlsClientCertificate {
            expiries.append((.certificate, certificate.notAfter))
        }
        return expiries
    }
}
