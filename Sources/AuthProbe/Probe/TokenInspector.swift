import Foundation
import JWTKit

/// Verifies an issued access token that is a JWT against the JWKS fetched in the same run: the signature,
/// that its `kid` is in the key set, and its claims (`iss`, `exp` against arrival + `expires_in`).
///
/// Opaque tokens are fine and simply not inspected. The token itself never leaves this type: results carry
/// only the outcome, a detail and the clock skew.
public enum TokenInspector {
    /// What inspecting one token found.
    public struct Inspection: Sendable, Equatable {
        /// `success` or one of `jwt_unknown_kid`, `jwt_invalid_signature`, `jwt_claims_invalid`.
        public var outcome: Outcome
        public var detail: String
        /// `iat` minus the local time the response arrived, in seconds (positive: the provider's clock is ahead).
        public var clockSkew: Double?
        public var notes: [String] = []
        /// Whether the signature was checked: false when no JWKS key could be used for it.
        public var verified = true

        /// The token step's detail after inspection: the token step's own on success, the JWT problem otherwise.
        func succeededDetail(after tokenDetail: String) -> String {
            self.outcome == .success ? "\(tokenDetail), \(self.detail)" : self.detail
        }
    }

    /// How far `exp` may be from arrival + `expires_in`, beyond the clock skew (rounding, transfer time).
    static let lifetimeTolerance: Double = 10

    /// Inspects `token`; nil when it is not a JWT.
    public static func inspect(
        token: Secret,
        jwks: String,
        issuer: String,
        expiresIn: Int?,
        receivedAt: Date,
        cleaner: DetailCleaner = DetailCleaner()
    ) async -> Inspection? {
        guard let header = token.withRawValue(Self.header) else { return nil }
        // The kid must name a published key: jwt-kit would fall back to a default key and hide a key
        // rotated at the provider but not (yet) published.
        let keyObjects = Self.keyObjects(jwks)
        let publishedKids = Set(keyObjects.compactMap { $0["kid"] as? String })
        if let kid = header["kid"] as? String, !publishedKids.contains(kid) {
            return Inspection(
                outcome: .jwtUnknownKid,
                detail: "the token's kid is not in the JWKS (key rotated without publishing?)"
            )
        }
        // Keys are loaded one by one, and only those the token can name: a key of a type jwt-kit cannot use
        // (an encryption key, an unsupported curve) must not stop the others from verifying the token.
        let keys = JWTKeyCollection()
        var unusable: [String] = []
        var loaded = 0
        for key in keyObjects {
            if let kid = header["kid"] as? String, key["kid"] as? String != kid { continue }
            do {
                let data = try JSONSerialization.data(withJSONObject: key)
                try await keys.add(jwk: try JSONDecoder().decode(JWK.self, from: data))
                loaded += 1
            } catch {
                // kid and kty are the provider's text: cleaned like any other.
                let name = (key["kid"] as? String).map { "kid \(cleaner.text($0))" } ?? "a key without kid"
                unusable.append("\(name) (kty \(cleaner.text(key["kty"] as? String ?? "?")))")
            }
        }
        if loaded == 0 {
            var inspection = Inspection(
                outcome: .success,
                detail: "JWT not verified",
                notes: ["no JWKS key usable to verify the token: \(unusable.joined(separator: ", "))"]
            )
            inspection.verified = false
            return inspection
        }
        let claims: AccessTokenClaims
        do {
            claims = try await token.withRawValue { raw in { try await keys.verify(raw, as: AccessTokenClaims.self) }
            }()
        } catch let error as JWTError {
            return Inspection(outcome: Self.outcome(error), detail: Self.describe(error))
        } catch {
            return Inspection(outcome: .jwtClaimsInvalid, detail: "JWT cannot be decoded")
        }
        var problems: [String] = []
        if claims.iss?.value != issuer {
            // The claim is the provider's text (a line break in it must not forge a log line): cleaned and cut.
            problems.append("iss \(claims.iss.map { cleaner.quote($0.value) } ?? "is missing") is not the issuer")
        }
        if let exp = claims.exp?.value, exp < receivedAt.addingTimeInterval(-60) {
            problems.append("exp is in the past")
        }
        let skew = claims.iat.map { $0.value.timeIntervalSince(receivedAt) }
        if let exp = claims.exp?.value, let expiresIn {
            // exp against arrival + expires_in, not exp - iat: providers backdate iat (by minutes, some) and
            // may hand out a cached token with its remaining lifetime; both are consistent this way.
            let expected = receivedAt.addingTimeInterval(Double(expiresIn))
            let difference = exp.timeIntervalSince(expected)
            if !(abs(difference) <= Self.lifetimeTolerance + abs(skew ?? 0)) {
                problems.append(
                    "exp is \(String(format: "%.0f", difference))s from arrival + expires_in (\(expiresIn)s)"
                )
            }
        }
        guard problems.isEmpty else {
            return Inspection(outcome: .jwtClaimsInvalid, detail: problems.joined(separator: "; "), clockSkew: skew)
        }
        return Inspection(outcome: .success, detail: "JWT verified against the JWKS", clockSkew: skew)
    }

    /// The JOSE header of a JWT (three base64url parts, the first a JSON object with `alg`); nil for other tokens.
    static func header(_ token: String) -> [String: Any]? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Self.base64URLDecode(String(parts[0])),
            let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any], object["alg"] is String
        else { return nil }
        return object
    }

    /// The key objects of a JWKS document.
    static func keyObjects(_ jwks: String) -> [[String: Any]] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(jwks.utf8)) as? [String: Any],
            let keys = object["keys"] as? [[String: Any]]
        else { return [] }
        return keys
    }

    private static func base64URLDecode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }

    private static func outcome(_ error: JWTError) -> Outcome {
        switch error.errorType {
        case .unknownKID, .missingKIDHeader: return .jwtUnknownKid
        case .signatureVerificationFailed, .signingAlgorithmFailure, .unsupportedAlgorithm, .noKeyProvided:
            return .jwtInvalidSignature
        default: return .jwtClaimsInvalid
        }
    }

    private static func describe(_ error: JWTError) -> String {
        switch error.errorType {
        case .unknownKID: return "the token's kid is not in the JWKS (key rotated without publishing?)"
        case .missingKIDHeader: return "the token has no kid and the JWKS has no default key"
        case .signatureVerificationFailed: return "the token's signature does not verify with the JWKS key"
        case .unsupportedAlgorithm, .signingAlgorithmFailure: return "the token's algorithm does not match its key"
        case .noKeyProvided: return "no JWKS key can verify the token"
        default: return "the token is malformed"
        }
    }
}

/// The registered claims authprobe checks; everything else in the token is ignored.
struct AccessTokenClaims: JWTPayload {
    var iss: IssuerClaim?
    var exp: ExpirationClaim?
    var iat: IssuedAtClaim?

    /// Claims are checked by ``TokenInspector`` itself, to say which one is wrong.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
