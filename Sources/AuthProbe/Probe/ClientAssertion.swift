import Foundation
import JWTKit
import NIOConcurrencyHelpers

/// Signs the JWT a `private_key_jwt` client authenticates with (RFC 7523 §3): `iss` and `sub` are the
/// client id, `aud` the token endpoint, a fresh `jti`, and a one-minute lifetime.
public enum ClientAssertion {
    /// `client_assertion_type` of RFC 7523 §2.2.
    public static let type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    /// How long an assertion is valid: long enough for a slow request, short enough to be useless later.
    static let lifetime: TimeInterval = 60

    struct Claims: JWTPayload {
        var iss: IssuerClaim
        var sub: SubjectClaim
        var aud: AudienceClaim
        var jti: IDClaim
        var iat: IssuedAtClaim
        var exp: ExpirationClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// Checks that `pem` is a private key usable with `algorithm`; the problem in words otherwise (never
    /// the key's text).
    public static func problem(pem: Secret, algorithm: SigningKey.Algorithm) -> String? {
        guard let parsed = self.parse(pem) else {
            return "not an unencrypted PEM RSA or EC (P-256, P-384) private key"
        }
        return Self.matches(algorithm, parsed) ? nil : AlgorithmMismatch(algorithm: algorithm).description
    }

    private static func matches(_ algorithm: SigningKey.Algorithm, _ key: ParsedKey) -> Bool {
        switch (algorithm, key) {
        case (.rs256, .rsa), (.rs384, .rsa), (.rs512, .rsa), (.es256, .es256), (.es384, .es384): return true
        default: return false
        }
    }

    /// The algorithm for a key when the configuration names none: RS256 for RSA, ES256/ES384 by EC curve.
    public static func defaultAlgorithm(pem: Secret) -> SigningKey.Algorithm? {
        switch self.parse(pem) {
        case .rsa: return .rs256
        case .es256: return .es256
        case .es384: return .es384
        case nil: return nil
        }
    }

    private enum ParsedKey {
        case rsa(Insecure.RSA.PrivateKey)
        case es256(ES256PrivateKey)
        case es384(ES384PrivateKey)
    }

    private static func parse(_ pem: Secret) -> ParsedKey? {
        pem.withRawValue { whole in
            // Only the private key block: the file may also hold its certificate or EC parameters, which
            // swift-crypto's EC parser does not skip.
            let text = Self.privateKeyBlock(whole) ?? whole
            if let key = try? Insecure.RSA.PrivateKey(pem: text) { return .rsa(key) }
            if let key = try? ES256PrivateKey(pem: text) { return .es256(key) }
            if let key = try? ES384PrivateKey(pem: text) { return .es384(key) }
            return nil
        }
    }

    /// A signed assertion for `clientID` at `audience`, wrapped as a secret (it authenticates the client
    /// for its lifetime).
    public static func sign(clientID: String, audience: String, key: SigningKey, now: Date) async throws -> Secret {
        let keys = try await self.cachedKeys(key)
        // NumericDate in whole seconds: some providers (glewlwyd among them) refuse fractional times.
        let now = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        let claims = Claims(
            iss: IssuerClaim(value: clientID),
            sub: SubjectClaim(value: clientID),
            aud: AudienceClaim(value: audience),
            jti: IDClaim(value: UUID().uuidString),
            iat: IssuedAtClaim(value: now),
            exp: ExpirationClaim(value: now.addingTimeInterval(Self.lifetime))
        )
        var header = JWTHeader()
        header.typ = "JWT"
        return Secret(try await keys.sign(claims, kid: key.keyID.map { JWKIdentifier(string: $0) }, header: header))
    }

    struct AlgorithmMismatch: Error, CustomStringConvertible {
        var algorithm: SigningKey.Algorithm
        var description: String {
            "the key cannot sign \(self.algorithm.rawValue) (RS* needs RSA, ES256 P-256, ES384 P-384)"
        }
    }

    /// The `-----BEGIN … PRIVATE KEY-----` block of a PEM file, if it has one.
    static func privateKeyBlock(_ pem: String) -> String? {
        guard let begin = pem.range(of: #"-----BEGIN [A-Z ]*PRIVATE KEY-----"#, options: .regularExpression),
            let end = pem.range(
                of: #"-----END [A-Z ]*PRIVATE KEY-----"#,
                options: .regularExpression,
                range: begin.upperBound..<pem.endIndex
            )
        else { return nil }
        return String(pem[begin.lowerBound..<end.upperBound]) + "\n"
    }

    struct NotAKey: Error {}

    private struct CacheKey: Hashable {
        var pem: Secret
        var algorithm: String
        var keyID: String?
    }

    /// Parsed signing keys, so that a run signs without parsing PEM again (runs share the event loops that
    /// time requests). Bounded, and emptied when full.
    private static let keyCache = NIOLockedValueBox<[CacheKey: JWTKeyCollection]>([:])

    private static func cachedKeys(_ key: SigningKey) async throws -> JWTKeyCollection {
        let cacheKey = CacheKey(pem: key.pem, algorithm: key.algorithm.rawValue, keyID: key.keyID)
        if let keys = Self.keyCache.withLockedValue({ $0[cacheKey] }) { return keys }
        let keys = try await self.keys(pem: key.pem, algorithm: key.algorithm, keyID: key.keyID)
        Self.keyCache.withLockedValue { cache in
            if cache.count >= 64 { cache.removeAll() }
            cache[cacheKey] = keys
        }
        return keys
    }

    private static func keys(pem: Secret, algorithm: SigningKey.Algorithm, keyID: String?) async throws
        -> JWTKeyCollection
    {
        guard let parsed = self.parse(pem) else { throw NotAKey() }
        let keys = JWTKeyCollection()
        let kid = keyID.map { JWKIdentifier(string: $0) }
        switch (algorithm, parsed) {
        case (.rs256, .rsa(let key)): await keys.add(rsa: key, digestAlgorithm: .sha256, kid: kid)
        case (.rs384, .rsa(let key)): await keys.add(rsa: key, digestAlgorithm: .sha384, kid: kid)
        case (.rs512, .rsa(let key)): await keys.add(rsa: key, digestAlgorithm: .sha512, kid: kid)
        case (.es256, .es256(let key)): await keys.add(ecdsa: key, kid: kid)
        case (.es384, .es384(let key)): await keys.add(ecdsa: key, kid: kid)
        default: throw AlgorithmMismatch(algorithm: algorithm)
        }
        return keys
    }
}
