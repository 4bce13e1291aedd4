import Foundation
import Testing

@testable import AuthProbe

/// Parsers of provider data never trap: boundary and random inputs give a value or nil, never a crash.
@Suite("Provider parsers under hostile input")
struct ProviderParserFuzzTests {
    /// Boundary inputs: years at the limits of Int, huge and negative numbers, empty and binary text.
    static let boundaryDates: [String] = [
        "Sun, 06 Nov 300000000000 08:49:37 GMT",
        "Sun, 06 Nov -300000000000 08:49:37 GMT",
        "Sun, 06 Nov \(Int.max) 08:49:37 GMT",
        "Sun, 06 Nov \(Int.min) 08:49:37 GMT",
        "Sun, 99 Nov 1994 08:49:37 GMT",
        "Sun, +6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:\(Int.max) GMT",
        "Sun, 06 Nov 1994 -8:49:37 GMT",
        "Sun, 06 Nov 1994 08::37 GMT",
        "Sun, 06 Nov 1994 08:49:37:00 GMT",
        "Sun, 06 Nov " + String(repeating: "9", count: 1_000_000) + " 08:49:37 GMT",
        "", " ", ",", "GMT", "\u{0}\u{0}\u{0}",
        String(decoding: [0xff, 0xfe, 0x00, 0x80], as: UTF8.self),
    ]

    @Test("Date header: boundary inputs give nil, never a trap", arguments: Self.boundaryDates)
    func dateBoundaries(_ text: String) {
        #expect(HTTPDate.parse(text) == nil)
        let response = TransportResponse(status: 503, headers: [("Date", text), ("Retry-After", text)])
        #expect(HTTPDate.skew(response, arrivedAt: Date()) == nil)
        #expect(ResponseClassifier.retryAfter(response, now: Date()) == nil)
    }

    @Test("Date header: the extremes that parse give finite dates")
    func dateExtremes() throws {
        let latest = try #require(HTTPDate.parse("Fri, 31 Dec 9999 23:59:60 GMT"))
        #expect(latest.timeIntervalSince1970 == 253_402_300_800)
        let earliest = try #require(HTTPDate.parse("Sat, 01 Jan 0000 00:00:00 GMT"))
        #expect(earliest.timeIntervalSince1970 == -62_167_219_200)
    }

    @Test("Retry-After: huge delays and far dates are capped, negative ones refused")
    func retryAfterBounds() {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        func retryAfter(_ value: String) -> Duration? {
            ResponseClassifier.retryAfter(TransportResponse(status: 429, headers: [("Retry-After", value)]), now: now)
        }
        let cap = Duration.seconds(ResponseClassifier.longestRetryAfter)
        #expect(retryAfter("120") == .seconds(120))
        #expect(retryAfter("\(Int.max)") == cap)
        #expect(retryAfter(String(repeating: "9", count: 1_000_000)) == nil)
        #expect(retryAfter("-5") == nil)
        #expect(retryAfter("Fri, 31 Dec 9999 23:59:59 GMT") == cap)
        #expect(retryAfter("Sat, 01 Jan 0000 00:00:00 GMT") == .zero)
        #expect(retryAfter("Tue, 14 Nov 2023 22:15:20 GMT") == .seconds(120))
    }

    @Test("Date header and Retry-After: random inputs never trap")
    func randomInputs() {
        var generator = SplitMix64(seed: 0x5eed)
        let alphabet = Array("0123456789 ,:-+GMTSunNovDec\u{0}\u{ff}é".unicodeScalars)
        for round in 0..<20_000 {
            let length = Int(generator.next() % 48)
            var text = String.UnicodeScalarView()
            for _ in 0..<length { text.append(alphabet[Int(generator.next() % UInt64(alphabet.count))]) }
            // Every other input starts from a valid date with one field replaced.
            let input =
                round.isMultiple(of: 2)
                ? String(text)
                : "Sun, 06 Nov \(Int64(bitPattern: generator.next())) 08:49:\(String(text).prefix(4)) GMT"
            let response = TransportResponse(status: 503, headers: [("Date", input), ("Retry-After", input)])
            if let date = HTTPDate.parse(input) { #expect(date.timeIntervalSince1970.isFinite) }
            _ = HTTPDate.skew(response, arrivedAt: Date())
            if let wait = ResponseClassifier.retryAfter(response, now: Date()) {
                #expect(wait >= .zero && wait <= .seconds(ResponseClassifier.longestRetryAfter))
            }
        }
    }
}

/// A small deterministic generator (SplitMix64), so a failing input can be reproduced.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9e37_79b9_7f4a_7c15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
