import Foundation

/// Where one environment's requests may go when the provider, not the configuration, names the place: the
/// endpoints of the discovery document, the client assertion's audience, and the targets of GET redirects.
///
/// The rule of the whole type: a provider never decides where a credential goes. Requests that carry one
/// (the token POST, and the assertion whose `aud` says where it may be replayed) stay on the issuer's host;
/// requests that carry none (the JWKS, redirected GETs) may go elsewhere, but never to link-local or cloud
/// metadata addresses. Neither kind downgrades an https issuer to plain http, or uses plain http off loopback
/// without `insecure_http`. `allowed_hosts` names the exceptions. Pure: nothing here touches the network.
public struct EndpointPolicy: Sendable, Equatable {
    /// What a URL is used for, which decides the rules it must pass.
    public enum Use: Sendable {
        /// The token endpoint, or a client assertion's audience: the issuer's host (any port) or `allowed_hosts`.
        case credential
        /// A GET without a credential (JWKS, a redirect of discovery, JWKS or the API): any host but link-local
        /// and metadata addresses, unless `allowed_hosts` names it.
        case fetch
    }

    /// Whether the issuer is `https://`: then no endpoint it leads to may be plain http, loopback or not.
    public var issuerIsTLS: Bool
    /// The issuer's host, normalized (``Host/normalized(_:)``).
    public var issuerHost: String
    /// Extra hosts, normalized, that endpoints may use (`allowed_hosts`).
    public var allowedHosts: Set<String>
    /// `insecure_http`: plain http off loopback.
    public var insecureHTTP: Bool
    /// Whether a plain-http loopback URL stays on this machine: no proxy, or a loopback one.
    public var loopbackStaysLocal: Bool

    public init(
        issuer: String,
        allowedHosts: [String] = [],
        insecureHTTP: Bool = false,
        loopbackStaysLocal: Bool = true
    ) {
        let target = RequestTarget.cached(issuer)
        self.issuerIsTLS = target?.isTLS ?? true
        self.issuerHost = Host.normalized(target?.host ?? "")
        self.allowedHosts = Set(allowedHosts.map(Host.normalized))
        self.insecureHTTP = insecureHTTP
        self.loopbackStaysLocal = loopbackStaysLocal
    }

    /// Why `url` may not be used for `use`, or nil when it may.
    public func refusal(_ url: String, for use: Use) -> String? {
        guard let target = RequestTarget.cached(url) else { return "not an http(s) URL" }
        let host = Host.normalized(target.host)
        if self.issuerIsTLS && !target.isTLS {
            return "plain http from an https issuer"
        }
        if !target.isTLS && !self.insecureHTTP && !(target.isLoopback && self.loopbackStaysLocal) {
            return "plain http off loopback (set insecure_http to allow it)"
        }
        let allowed = host == self.issuerHost || self.allowedHosts.contains(host)
        switch use {
        case .credential:
            if !allowed {
                return "host \(host) is not the issuer's host \(self.issuerHost) (add it to allowed_hosts to allow it)"
            }
        case .fetch:
            if !allowed && Host.isLinkLocalOrMetadata(host) {
                return "host \(host) is a link-local or cloud metadata address (add it to allowed_hosts to allow it)"
            }
        }
        return nil
    }

    /// Why a client assertion may not name `audience` as its `aud`, or nil. An assertion is a credential for
    /// whoever its audience names, so a URL audience passes the token endpoint's rule; an audience that is
    /// not an http(s) URL (a URN, a bare identifier) names no server and passes.
    public func assertionAudienceRefusal(_ audience: String) -> String? {
        guard RequestTarget.cached(audience) != nil else { return nil }
        return self.refusal(audience, for: .credential)
    }
}
