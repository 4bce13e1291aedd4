import Foundation

/// Predicates on host names and addresses, shared by the configuration's rules and the HTTP client's.
public enum Host {
    /// True for `localhost`, 127.0.0.0/8 and ::1 (with or without brackets).
    public static func isLoopback(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        if bare == "localhost" || bare.hasSuffix(".localhost") || bare == "::1" { return true }
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// The form two hosts are compared in: lowercase, without IPv6 brackets, an IPv6 zone or a final dot.
    public static func normalized(_ host: String) -> String {
        var bare = host.lowercased()
        if bare.hasPrefix("[") && bare.hasSuffix("]") { bare = String(bare.dropFirst().dropLast()) }
        if let zone = bare.firstIndex(of: "%") { bare = String(bare[..<zone]) }
        while bare.hasSuffix(".") { bare.removeLast() }
        return bare
    }

    /// Names of cloud instance-metadata services: a request there can hand out the machine's own credentials.
    static let metadataNames: Set<String> = [
        "metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal",
        "metadata.tencentyun.com",
    ]

    /// Metadata services outside the link-local ranges: Alibaba Cloud, Azure's WireServer, AWS over IPv6.
    static let metadataIPv4: Set<UInt32> = [0x6464_64C8, 0xA83F_8110]
    static let metadataIPv6: Set<[UInt8]> = [[0xFD, 0x00, 0x0E, 0xC2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54]]

    /// True for link-local addresses (169.254.0.0/16, fe80::/10) and cloud metadata services (169.254.169.254,
    /// fd00:ec2::254, 100.100.100.200, `metadata.google.internal`, …), in any spelling a resolver accepts:
    /// `2852039166` and `0xa9.0xfe.0xa9.0xfe` are 169.254.169.254 to getaddrinfo, and so they are here.
    ///
    /// A name is judged as written; what it resolves to is the resolver's business.
    public static func isLinkLocalOrMetadata(_ host: String) -> Bool {
        let bare = Self.normalized(host)
        if Self.metadataNames.contains(bare) { return true }
        if let v4 = Self.ipv4(bare) { return Self.isLinkLocalOrMetadata(v4) }
        guard let v6 = Self.ipv6(bare) else { return false }
        if v6[0] == 0xFE && v6[1] & 0xC0 == 0x80 { return true }
        if Self.metadataIPv6.contains(v6) { return true }
        return Self.embeddedIPv4(v6).map(Self.isLinkLocalOrMetadata) ?? false
    }

    /// The IPv4 address an IPv6 address carries to an IPv4 host: IPv4-mapped (`::ffff:a.b.c.d`),
    /// IPv4-compatible (`::a.b.c.d`), the NAT64 well-known prefix (`64:ff9b::a.b.c.d`, RFC 6052) and 6to4
    /// (`2002:AABB:CCDD::/48`, RFC 3056). A gateway on the way turns each into a request to that IPv4 address.
    static func embeddedIPv4(_ v6: [UInt8]) -> UInt32? {
        func address(_ bytes: ArraySlice<UInt8>) -> UInt32 { bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
        let zeroPrefix = v6[0..<10].allSatisfy { $0 == 0 }
        if zeroPrefix && v6[10] == 0xFF && v6[11] == 0xFF { return address(v6[12...]) }
        // `::` and `::1` are the unspecified and loopback addresses, not IPv4-compatible ones.
        if zeroPrefix && v6[10] == 0 && v6[11] == 0 && address(v6[12...]) > 1 { return address(v6[12...]) }
        if v6[0..<12].elementsEqual([0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0]) { return address(v6[12...]) }
        if v6[0] == 0x20 && v6[1] == 0x02 { return address(v6[2..<6]) }
        return nil
    }

    private static func isLinkLocalOrMetadata(_ v4: UInt32) -> Bool {
        v4 >> 16 == 0xA9FE || Self.metadataIPv4.contains(v4)
    }

    /// An IPv4 address as `inet_aton` (and so getaddrinfo) reads it: one to four parts, each decimal, octal
    /// (leading 0) or hexadecimal (0x), the last part filling the remaining bytes.
    static func ipv4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(parts.count) else { return nil }
        var values: [UInt64] = []
        for part in parts {
            let lower = part.lowercased()
            let value: UInt64?
            if lower.hasPrefix("0x") {
                value = lower.count > 2 ? UInt64(lower.dropFirst(2), radix: 16) : 0
            } else if lower.hasPrefix("0") && lower.count > 1 {
                value = UInt64(lower.dropFirst(), radix: 8)
            } else {
                value = UInt64(lower, radix: 10)
            }
            guard let value, !lower.isEmpty, lower.count <= 12 else { return nil }
            values.append(value)
        }
        var address: UInt64 = 0
        for (index, value) in values.dropLast().enumerated() {
            guard value <= 0xFF else { return nil }
            address |= value << (8 * UInt64(3 - index))
        }
        let lastBits = 8 * UInt64(5 - values.count)
        guard let last = values.last, last < (1 << lastBits) else { return nil }
        return UInt32(address | last)
    }

    /// The 16 bytes of an IPv6 literal (without brackets or zone), or nil.
    static func ipv6(_ text: String) -> [UInt8]? {
        guard text.contains(":") else { return nil }
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }

    /// Whether `text` is a host as `allowed_hosts` takes it: a DNS name or an IP literal (IPv6 with or without
    /// brackets), with no scheme, port, path or wildcard.
    public static func isHostName(_ text: String) -> Bool {
        var bare = text
        if bare.hasPrefix("[") && bare.hasSuffix("]") {
            bare = String(bare.dropFirst().dropLast())
            return Self.ipv6(bare) != nil
        }
        if bare.contains(":") { return Self.ipv6(bare) != nil }
        while bare.hasSuffix(".") && bare.count > 1 { bare.removeLast() }
        guard !bare.isEmpty, bare.count <= 253 else { return false }
        let labels = bare.split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.unicodeScalars.allSatisfy {
                    $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_")
                }
        }
    }
}
