/// One request of a probe run.
public enum Step: String, Sendable, CaseIterable, Codable, CodingKeyRepresentable {
    case discovery, jwks, token, api
}

/// Part of one request's latency.
public enum Phase: String, Sendable, CaseIterable {
    case dns, connect, tls, processing, transfer
}
