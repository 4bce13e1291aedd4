import Foundation
import Yams

/// URLs and hosts: issuer, API check URL, proxy.
extension ConfigParser {
    mutating func checkIssuer(
        _ text: String,
        node: Node,
        field: String,
        insecureHTTP: Bool,
        proxy: ProxyAddress?
    ) -> String? {
        guard let url = self.checkURL(text, node: node, field: field, insecureHTTP: insecureHTTP, proxy: proxy)
        else { return nil }
        if URLComponents(string: url)?.query != nil || URLComponents(string: url)?.fragment != nil {
            self.fail(node, field: field, "an issuer has no query or fragment")
            return nil
        }
        return url
    }

    /// An absolute https URL (http on loopback or with `insecure_http`), without user info.
    mutating func checkURL(
        _ text: String,
        node: Node,
        field: String,
        insecureHTTP: Bool,
        proxy: ProxyAddress?
    ) -> String? {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty, scheme == "https" || scheme == "http"
        else {
            self.fail(node, field: field, "expected an absolute https:// URL")
            return nil
        }
        if components.user != nil || components.password != nil {
            // Never echo it: the part before @ may be a password.
            self.fail(
                node,
                field: field,
                "a user name or password in the URL is not accepted; remove the part before @"
            )
            return nil
        }
        if scheme == "http" && !insecureHTTP && !Host.isLoopback(host) {
            self.fail(node, field: field, "plain http is refused off loopback; use https (or set insecure_http: true)")
            return nil
        }
        if scheme == "http" && !insecureHTTP, let proxy, !Host.isLoopback(proxy.host) {
            // Sent to a proxy elsewhere, a loopback request would cross the network in clear text (and reach
            // the proxy's own loopback, not this host's).
            self.fail(
                node,
                field: field,
                "plain http through the proxy \(proxy.description) would cross the network; use https "
                    + "(or set insecure_http: true)"
            )
            return nil
        }
        return text
    }

    /// `http://host:port` of an HTTP proxy: no credentials, no path.
    mutating func checkProxy(_ text: String, node: Node, field: String) -> ProxyAddress? {
        guard let components = URLComponents(string: text), components.scheme?.lowercased() == "http",
            var host = components.host, !host.isEmpty
        else {
            self.fail(node, field: field, "expected an http://host:port proxy URL")
            return nil
        }
        if components.user != nil || components.password != nil {
            // Never echo it: the part before @ may be a password.
            self.fail(node, field: field, "proxy credentials are not supported; remove the part before @")
            return nil
        }
        guard let port = components.port, (1...65535).contains(port) else {
            self.fail(node, field: field, "the proxy URL needs a port, e.g. http://proxy.internal:3128")
            return nil
        }
        guard components.path.isEmpty || components.path == "/", components.query == nil, components.fragment == nil
        else {
            self.fail(node, field: field, "a proxy URL has no path, query or fragment")
            return nil
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return ProxyAddress(host: host, port: port)
    }
}
