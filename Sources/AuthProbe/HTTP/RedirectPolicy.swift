import Foundation

/// Which redirects the prober follows: only for GET steps (discovery, JWKS, API), at most
/// ``maximumRedirects`` hops, never from https to http, never for the token POST (a client must not
/// re-send credentials to a place it was not configured for), and only where the environment's
/// ``EndpointPolicy`` lets a GET go (no plain http off loopback, no link-local or metadata address).
public enum RedirectPolicy {
    public static let maximumRedirects = 3
    static let statuses: Set<Int> = [301, 302, 303, 307, 308]

    /// The absolute URL to follow for a redirect from `url`, or the reason not to. Decided before any
    /// connection to the new place: a refused target is never contacted.
    public static func target(
        from url: String,
        location: String?,
        policy: EndpointPolicy? = nil
    ) -> Result<String, RefusedRedirect> {
        guard let location, !location.isEmpty else {
            return .failure(RefusedRedirect(reason: "redirect without Location"))
        }
        guard let base = URL(string: url), let next = URL(string: location, relativeTo: base)?.absoluteURL,
            let scheme = next.scheme?.lowercased(), scheme == "http" || scheme == "https"
        else {
            return .failure(RefusedRedirect(reason: "redirect to an unusable Location"))
        }
        if base.scheme?.lowercased() == "https" && scheme == "http" {
            return .failure(RefusedRedirect(reason: "redirect from https to plain http refused"))
        }
        if let policy, let refusal = policy.refusal(next.absoluteString, for: .fetch) {
            return .failure(RefusedRedirect(reason: "refused: \(refusal)", location: next.absoluteString))
        }
        return .success(next.absoluteString)
    }

    /// A URL as it may be stored: no user info, query or fragment (they can carry credentials).
    public static func withoutQuery(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "(unparsable URL)" }
        components.user = nil
        components.password = nil
        components.query = nil
        components.fragment = nil
        return components.string ?? "(unparsable URL)"
    }

    /// Why a redirect was not followed.
    public struct RefusedRedirect: Error, Sendable, Equatable {
        /// Authprobe's own words; the refused Location, which the provider wrote, is kept apart.
        public var reason: String
        /// The refused target, when the refusal is about where it leads.
        public var location: String?

        public init(reason: String, location: String? = nil) {
            self.reason = reason
            self.location = location
        }

        /// The note for the result: the Location passes `cleaner` (without its query) before it is kept.
        public func note(_ cleaner: DetailCleaner) -> String {
            guard let location = self.location else { return self.reason }
            return "redirect to \(cleaner.url(location)) \(self.reason)"
        }
    }
}
