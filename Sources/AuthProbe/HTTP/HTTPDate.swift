import Foundation

/// The HTTP `Date` header (RFC 9110 §5.6.7), for the provider's clock when no token says it.
enum HTTPDate {
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Parses the preferred IMF-fixdate form, `Sun, 06 Nov 1994 08:49:37 GMT`; nil for anything else.
    static func parse(_ text: String) -> Date? {
        // The header is a provider's: bounded before anything is parsed, and every number has the fixed width
        // IMF-fixdate gives it (a year is four digits), so no arithmetic below can overflow.
        guard text.utf8.count <= 64 else { return nil }
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT", parts[1].utf8.count == 2,
            parts[3].utf8.count == 4, let day = Self.digits(parts[1]),
            let monthIndex = Self.months.firstIndex(of: String(parts[2])), let year = Self.digits(parts[3])
        else { return nil }
        let clockParts = parts[4].split(separator: ":", omittingEmptySubsequences: false)
        let clock = clockParts.compactMap { $0.utf8.count == 2 ? Self.digits($0) : nil }
        guard clock.count == 3, clockParts.count == 3, (1...31).contains(day), (0...23).contains(clock[0]),
            (0...59).contains(clock[1]), (0...60).contains(clock[2])
        else { return nil }
        let days = Self.daysFromCivil(year: year, month: monthIndex + 1, day: day)
        let seconds = days * 86_400 + clock[0] * 3_600 + clock[1] * 60 + clock[2]
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    /// The provider's clock minus ours from a response's `Date`. The header has whole seconds, so the
    /// provider's time is taken as the middle of that second: the estimate is good to about ±0.5 s. A cached
    /// answer keeps the origin's `Date` and says how old it is in `Age` (RFC 9111 §5.1), which is added.
    static func skew(_ response: TransportResponse, arrivedAt: Date) -> Double? {
        guard let header = response.header("Date"), let date = Self.parse(header) else { return nil }
        // Age is delta-seconds of any length; anything past a day is not a cache age worth believing.
        let age =
            response.header("Age").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            .map { Double(min(max($0, 0), 86_400)) } ?? 0
        return date.timeIntervalSince(arrivedAt) + age + 0.5
    }

    /// The value of a run of ASCII digits (no sign, no spaces); nil otherwise. Callers bound the length.
    private static func digits(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return nil }
        return Int(text)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
