/// Parsing and printing of Prometheus-style durations (`500ms`, `30s`, `5m`, `1h30m`, `30d`).
public enum Durations {
    private static let units: [(suffix: String, seconds: Double)] = [
        ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400), ("w", 604_800), ("y", 31_536_000),
    ]

    /// Parses a duration such as `90s`, `1h30m` or `500ms`; nil when the text is not one.
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let number = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            // "ms" must be tried before "m".
            guard let unit = self.units.first(where: { rest.hasPrefix($0.suffix) }) else { return nil }
            rest = rest.dropFirst(unit.suffix.count)
            total += number * unit.seconds
        }
        // Beyond a century nothing is meaningful, and Int64 milliseconds would overflow sooner or later.
        guard total <= 100 * 31_536_000 else { return nil }
        return .milliseconds(Int64((total * 1000).rounded()))
    }

    /// Seconds of a duration as a floating-point number.
    public static func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }

    /// A duration from seconds read back from storage; nil for a negative, non-finite or absurd value
    /// (beyond a century), so a hand-edited row cannot trap the conversion.
    public static func duration(seconds: Double) -> Duration? {
        guard seconds.isFinite, seconds >= 0, seconds <= 100 * 31_536_000 else { return nil }
        return .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    /// A short human form: `250ms`, `60s`, `5m`, `30d`.
    public static func format(_ duration: Duration) -> String {
        let ms = Int64((self.seconds(duration) * 1000).rounded())
        if ms % 86_400_000 == 0, ms > 0 { return "\(ms / 86_400_000)d" }
        if ms % 3_600_000 == 0, ms > 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0, ms > 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}
