/// Reads one sample from Prometheus exposition text by its exact series (labels sorted by name,
/// as authprobe writes them).
enum MetricsText {
    static func series(_ name: String, _ labels: [String: String]) -> String {
        let rendered = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",")
        return labels.isEmpty ? name : "\(name){\(rendered)}"
    }

    /// The value of the series, or nil when the body does not contain it.
    static func value(_ body: String, _ name: String, _ labels: [String: String]) -> Double? {
        let prefix = self.series(name, labels) + " "
        for line in body.split(separator: "\n") where line.hasPrefix(prefix) {
            return Double(line.dropFirst(prefix.count))
        }
        return nil
    }
}
