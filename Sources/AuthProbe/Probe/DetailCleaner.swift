import Foundation

/// Keeps the credentials of one probe run out of every string a step result keeps from a provider.
///
/// Provider text is parsed first, on the raw body, and only bounded fields reach a detail or a note; each goes
/// through ``quote(_:)`` or ``url(_:)``, and every detail and note of the run through ``scrub(_:)`` at the end.
/// A credential is searched for in every form it can travel in: raw (NFC and NFD too), percent- and
/// form-encoded (upper- and lowercase hex, `+` or `%20` for a space), JSON-escaped (`\uXXXX` in either case,
/// `\"`, `\\`, `\/`), and base64 and base64url, padded or not, of the credential and of `id:secret` (both
/// form-encoded, as `Basic` sends them, and as they are), including the characters of a base64 text any
/// longer value containing the credential encodes to. C0 and C1 controls, DEL, Unicode line separators and
/// bidirectional overrides are removed before the search, so that a secret split by a line break is found.
///
/// A credential that is too short or too common to search for — fewer than 8 characters, fewer than 16 made
/// of letters only (a word or two), or a word of the OAuth or authprobe vocabulary — cannot be replaced without
/// mangling ordinary text, and where the replacement stood would reveal it. Such a credential is not searched
/// for: provider free text is withheld instead (``withheld``), and a detail keeps only authprobe's own text
/// and bounded values (an error code of the closed RFC 6749 set, a status, a host name).
public struct DetailCleaner: Sendable, CustomStringConvertible {
    /// Provider text is cut to this many characters.
    public static let quotedLength = 200
    /// What stands where a credential was found.
    public static let redacted = "<redacted>"
    /// What stands in place of provider text when a credential of the run is too short or common to search for.
    public static let withheld = "(withheld)"

    /// Every encoded form of every searchable credential, longest first.
    private var needles: [[UInt8]]
    /// The needles' indices by their first byte (256 entries).
    private var index: [[Int]]
    private let clientID: String?
    /// True when a credential of the run is too short or common to search for: provider text is then withheld.
    public private(set) var withholdsProviderText: Bool

    /// A cleaner for `credentials`; `clientID` is the client's id, for the `id:secret` forms of `Basic`.
    public init(credentials: [Secret] = [], clientID: String? = nil) {
        self.needles = []
        self.index = Array(repeating: [], count: 256)
        self.clientID = clientID
        self.withholdsProviderText = false
        for credential in credentials { self.add(credential) }
    }

    /// This cleaner, also searching for `credential` (the client assertion, the issued access token).
    public func adding(_ credential: Secret?) -> DetailCleaner {
        guard let credential else { return self }
        var copy = self
        copy.add(credential)
        return copy
    }

    /// Never the needles: they are the credentials.
    public var description: String {
        "DetailCleaner(\(self.needles.count) forms\(self.withholdsProviderText ? ", withholding" : ""))"
    }

    private mutating func add(_ credential: Secret) {
        credential.withRawValue { raw in
            guard !raw.isEmpty else { return }
            guard Self.isSearchable(raw) else {
                self.withholdsProviderText = true
                return
            }
            var forms = Set(Self.forms(of: raw, clientID: self.clientID).filter { !$0.isEmpty })
            forms.formUnion(self.needles)
            self.needles = forms.sorted {
                $0.count != $1.count ? $0.count > $1.count : $0.lexicographicallyPrecedes($1)
            }
            self.index = Array(repeating: [], count: 256)
            for (position, needle) in self.needles.enumerated() { self.index[Int(needle[0])].append(position) }
        }
    }

    // MARK: - Using it

    /// Provider text for a detail: in quotes, cleaned, cut to ``quotedLength`` characters; ``withheld`` (no
    /// quotes) when a credential cannot be searched for.
    public func quote(_ text: String) -> String {
        let kept = self.text(text)
        return kept == Self.withheld ? kept : "\"\(kept)\""
    }

    /// Provider text for a detail, cleaned and cut as by ``quote(_:)`` but without the quotes (a key id, a kty).
    public func text(_ text: String) -> String {
        guard !self.withholdsProviderText else { return Self.withheld }
        return self.clean(text, limit: Self.quotedLength) ?? Self.withheld
    }

    /// A URL from a provider for a detail: without user info, query or fragment, cleaned, cut; ``withheld``
    /// when a credential cannot be searched for.
    public func url(_ url: String) -> String {
        self.text(RedirectPolicy.withoutQuery(url))
    }

    /// The last pass over a detail or a note: controls removed, every form of a searchable credential replaced,
    /// cut to ``StepResult/maxDetailBytes``. Text authprobe wrote itself is left as it is.
    public func scrub(_ text: String) -> String {
        StepResult.capped(self.clean(text, limit: nil) ?? Self.withheld)
    }

    // MARK: - The search

    /// `text` without controls and with every needle replaced, cut to `limit` characters (with an ellipsis);
    /// nil when the result would still hold a needle (a replacement completing one).
    func clean(_ text: String, limit: Int?) -> String? {
        let longest = self.needles.first?.count ?? 0
        // Enough input to fill `limit` characters however many needles are replaced on the way.
        let budget = limit.map { ($0 + 1) * max(longest, 4) + longest }
        var bytes: [UInt8] = []
        var complete = true
        for scalar in text.unicodeScalars where !Self.isStripped(scalar) {
            if let budget, bytes.count >= budget {
                complete = false
                break
            }
            UTF8.encode(scalar) { bytes.append($0) }
        }
        var out: [UInt8] = []
        out.reserveCapacity(min(bytes.count, 4 * (limit ?? bytes.count)))
        var characters = 0
        var position = 0
        var cut = false
        var replaced = false
        while position < bytes.count {
            if let limit, characters >= limit {
                cut = true
                break
            }
            if let match = self.match(bytes, at: position) {
                out.append(contentsOf: Self.redacted.utf8)
                characters += Self.redacted.count
                position += match
                replaced = true
                continue
            }
            let width = Self.scalarWidth(bytes[position])
            out.append(contentsOf: bytes[position..<min(position + width, bytes.count)])
            characters += 1
            position += width
        }
        if cut || !complete { out.append(contentsOf: "…".utf8) }
        // Without a replacement or a cut the output is the scanned text itself, in which no needle was found.
        if replaced || cut || !complete, self.needles.contains(where: { Self.contains(out, $0) }) { return nil }
        return String(decoding: out, as: UTF8.self)
    }

    /// The length of the longest needle at `position`, if any.
    private func match(_ bytes: [UInt8], at position: Int) -> Int? {
        for candidate in self.index[Int(bytes[position])] {
            let needle = self.needles[candidate]
            if position + needle.count <= bytes.count, bytes[position..<position + needle.count].elementsEqual(needle) {
                return needle.count
            }
        }
        return nil
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count)
        where haystack[start] == needle[0] && haystack[start..<start + needle.count].elementsEqual(needle) {
            return true
        }
        return false
    }

    private static func scalarWidth(_ lead: UInt8) -> Int {
        switch lead {
        case 0xF0...: return 4
        case 0xE0...: return 3
        case 0xC0...: return 2
        default: return 1
        }
    }

    /// C0 and C1 controls, DEL, line and paragraph separators, bidirectional controls and the BOM: nothing a
    /// detail needs, and what splits a secret or forges a log line.
    static func isStripped(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0xFEFF:
            return true
        default:
            return false
        }
    }

    // MARK: - Which credentials, which forms

    /// Words a detail may hold whatever the provider says: a credential equal to one is not searched for.
    static let vocabulary: Set<String> = Set(Outcome.allCases.map(\.rawValue)).union([
        "access_token", "token_type", "expires_in", "error", "error_description", "error_uri", "client_id",
        "client_secret", "client_credentials", "grant_type", "scope", "bearer", "basic", "location",
        "redirect", "discovery", "jwks", "token", "api", "http", "https", "issuer", "token_endpoint", "jwks_uri",
        "scope_invalid", "unregistered error code", redacted, withheld,
    ])

    /// Whether `raw` is distinctive enough to be searched for and replaced (see the type's documentation).
    static func isSearchable(_ raw: String) -> Bool {
        let count = raw.unicodeScalars.count
        if count < 8 { return false }
        if count < 16, raw.unicodeScalars.allSatisfy({ CharacterSet.letters.contains($0) }) { return false }
        return !Self.vocabulary.contains(raw.lowercased())
    }

    /// Every form `raw` may come back in, as UTF-8 bytes (some may repeat; none is built through Foundation,
    /// as this runs for every credential of every probe run).
    static func forms(of raw: String, clientID: String?) -> [[UInt8]] {
        var forms: [[UInt8]] = []
        let values =
            raw.utf8.allSatisfy { $0 < 0x80 }
            ? [raw]
            : Set([raw, raw.precomposedStringWithCanonicalMapping, raw.decomposedStringWithCanonicalMapping])
        for value in values {
            let bytes = Array(value.utf8)
            let formEncoded = FormEncoding.encode(bytes)
            forms.append(Self.stripped(bytes))
            forms += Self.percentForms(bytes)
            forms += Self.jsonForms(value)
            forms += Self.base64Forms(bytes[...])
            forms += Self.base64Interiors(bytes)
            forms += Self.base64Interiors(formEncoded)
            if let clientID {
                let id = Array(clientID.utf8)
                let formID = FormEncoding.encode(id)
                for pair in [formID + [0x3A] + formEncoded, id + [0x3A] + bytes] {
                    forms.append(Self.stripped(pair))
                    forms += Self.base64Forms(pair[...])
                }
            }
        }
        return forms
    }

    /// `bytes` (UTF-8) without the scalars ``isStripped(_:)`` removes.
    private static func stripped(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(where: { $0 < 0x20 || $0 >= 0x7F }) else { return bytes }
        var out: [UInt8] = []
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars where !Self.isStripped(scalar) {
            UTF8.encode(scalar) { out.append($0) }
        }
        return out
    }

    /// Percent-encodings: of everything but the form-unreserved, RFC 3986 unreserved or alphanumeric
    /// characters, with `+` or `%20` for a space, in upper- and lowercase hex.
    static func percentForms(_ bytes: [UInt8]) -> [[UInt8]] {
        var forms: [[UInt8]] = []
        for keep in [Self.formUnreserved, Self.uriUnreserved, Self.alphanumerics] {
            for space: [UInt8] in [[0x2B], [0x25, 0x32, 0x30]] {
                for digits in [Self.upperHex, Self.lowerHex] {
                    forms.append(Self.percentEncoded(bytes, keep: keep, space: space, digits: digits))
                }
            }
        }
        return forms
    }

    static func percentEncoded(_ bytes: [UInt8], keep: [Bool], space: [UInt8], digits: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for byte in bytes {
            if keep[Int(byte)] {
                out.append(byte)
            } else if byte == 0x20 {
                out += space
            } else {
                out += [UInt8(ascii: "%"), digits[Int(byte >> 4)], digits[Int(byte & 0xF)]]
            }
        }
        return out
    }

    /// Which bytes an encoding keeps as they are (256 entries).
    private static func keeping(_ extra: String) -> [Bool] {
        let kept = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\(extra)".utf8)
        return (0..<256).map { kept.contains(UInt8($0)) }
    }
    static let formUnreserved = Self.keeping("-._*")
    private static let uriUnreserved = Self.keeping("-._~")
    private static let alphanumerics = Self.keeping("")
    static let upperHex = Array("0123456789ABCDEF".utf8)
    private static let lowerHex = Array("0123456789abcdef".utf8)

    /// JSON string contents: `\"` and `\\`, `/` as is or `\/`, non-ASCII as is or `\uXXXX` in either case.
    static func jsonForms(_ value: String) -> [[UInt8]] {
        var forms: [[UInt8]] = []
        for escapeSlash in [false, true] {
            for nonASCII in [nil, "%04x", "%04X"] as [String?] {
                var out = ""
                for scalar in value.unicodeScalars {
                    switch scalar {
                    case "\"": out += "\\\""
                    case "\\": out += "\\\\"
                    case "/": out += escapeSlash ? "\\/" : "/"
                    case "\n": out += "\\n"
                    case "\r": out += "\\r"
                    case "\t": out += "\\t"
                    default:
                        if scalar.value < 0x20 || (scalar.value >= 0x7F && nonASCII != nil) {
                            for unit in String(scalar).utf16 {
                                out += String(format: "\\u" + (nonASCII ?? "%04x"), UInt32(unit))
                            }
                        } else {
                            out.unicodeScalars.append(scalar)
                        }
                    }
                }
                forms.append(Array(out.utf8))
            }
        }
        return forms
    }

    /// Base64 and base64url, padded and not.
    static func base64Forms(_ bytes: ArraySlice<UInt8>) -> [[UInt8]] {
        var padded: [UInt8] = []
        padded.reserveCapacity((bytes.count + 2) / 3 * 4)
        var position = bytes.startIndex
        while position < bytes.endIndex {
            let count = min(3, bytes.endIndex - position)
            var group = UInt32(0)
            for offset in 0..<3 {
                group = group << 8 | (offset < count ? UInt32(bytes[position + offset]) : 0)
            }
            for character in 0..<4 {
                padded.append(
                    character <= count ? Self.base64Alphabet[Int(group >> (18 - 6 * UInt32(character)) & 0x3F)] : 0x3D
                )
            }
            position += count
        }
        let url = padded.map { $0 == 0x2B ? 0x2D : $0 == 0x2F ? 0x5F : $0 }
        let unpadded = padded.count - padded.reversed().prefix(while: { $0 == 0x3D }).count
        return [padded, Array(padded[..<unpadded]), url, Array(url[..<unpadded])]
    }

    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The base64 (and base64url) characters that only `bytes` decide, for each of the three alignments at
    /// which `bytes` can sit inside a longer value: whatever surrounds the credential, its encoding holds one.
    static func base64Interiors(_ bytes: [UInt8]) -> [[UInt8]] {
        var forms: [[UInt8]] = []
        for start in 0..<3 where bytes.count > start {
            let groups = (bytes.count - start) / 3
            // Fewer than 8 characters would match ordinary text.
            guard groups >= 2 else { continue }
            forms += Self.base64Forms(bytes[start..<start + 3 * groups])
        }
        return forms
    }
}
