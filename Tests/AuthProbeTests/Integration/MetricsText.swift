/// Reads series out of a Prometheus text exposition, whatever the order of their labels.
enum MetricsText {
    /// The value of the series with exactly these labels, or nil when the body does not contain it.
    static func value(_ body: String, _ name: String, _ labels: [String: String]) -> Double? {
        for line in body.split(separator: "\n") where line.hasPrefix(name) {
            let rest = line.dropFirst(name.count)
            guard let first = rest.first, first == "{" || first == " " else { continue }
            guard let space = rest.lastIndex(of: " ") else { continue }
            let labelText = first == "{" ? rest[rest.index(after: rest.startIndex)..<rest.index(before: space)] : ""
            if Self.labels(labelText) == labels { return Double(rest[rest.index(after: space)...]) }
        }
        return nil
    }

    /// `a="1",b="2"` as a dictionary (the values authprobe writes have no escaped quotes or commas).
    static func labels(_ text: Substring) -> [String: String] {
        var labels: [String: String] = [:]
        for pair in text.split(separator: ",") {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            labels[String(pair[..<equals])] = String(pair[pair.index(after: equals)...].dropFirst().dropLast())
        }
        return labels
    }
}
