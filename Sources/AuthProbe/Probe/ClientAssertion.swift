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

    /// The configured algorithm does not fit the key (checked at load time, so this is authprobe's own fault).
    struct AlgorithmMismatch: Error, CustomStringConvertible {
        var algorithm: SigningAlgorithm
        var description: String { SigningKeyMaterial.mismatchProblem(self.algorithm) }
    }

    /// The key file no longer holds a supported key (it was checked at load time).
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

    private static func keys(pem: Secret, algorithm: SigningAlgorithm, keyID: String?) async throws
        -> JWTKeyCollection
    {
        guard let parsed = pem.withRawValue({ SigningKeyMaterial(pem: $0) }) else { throw NotAKey() }
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
