/// Writes the Prometheus text exposition format (0.0.4) into a byte buffer, by hand and without
/// intermediate strings: a scrape of thousands of targets is one pass over their states.
struct ExpositionWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) {
        self.bytes.reserveCapacity(capacity)
    }

    /// The `# HELP` and `# TYPE` lines of a family.
    mutating func family(_ name: String, _ type: String, _ help: String) {
        self.append("# HELP ")
        self.append(name)
        self.bytes.append(UInt8(ascii: " "))
        self.append(help)
        self.append("\n# TYPE ")
        self.append(name)
        self.bytes.append(UInt8(ascii: " "))
        self.append(type)
        self.bytes.append(UInt8(ascii: "\n"))
    }

    /// One sample: `name{labels} value`. `labels` is a prepared, escaped label list.
    mutating func sample(_ name: String, _ labels: LabelSet, _ value: Double) {
        self.sample(name, labels, [:], value)
    }

    /// One sample with extra labels after the prepared ones: `name{labels,extra} value`.
    mutating func sample(_ name: String, _ labels: LabelSet, _ extra: KeyValuePairs<String, String>, _ value: Double) {
        self.append(name)
        self.labels(labels, extra)
        self.bytes.append(UInt8(ascii: " "))
        self.number(value)
        self.bytes.append(UInt8(ascii: "\n"))
    }

    /// One integer sample (counters, bucket counts, sizes).
    mutating func sample(_ name: String, _ labels: LabelSet, count: Int) {
        self.sample(name, labels, [:], count: count)
    }

    /// One integer sample with extra labels.
    mutating func sample(_ name: String, _ labels: LabelSet, _ extra: KeyValuePairs<String, String>, count: Int) {
        self.append(name)
        self.labels(labels, extra)
        self.bytes.append(UInt8(ascii: " "))
        self.append(String(count))
        self.bytes.append(UInt8(ascii: "\n"))
    }

    /// The bytes written so far, leaving the writer empty (with the same capacity reserved).
    mutating func take() -> [UInt8] {
        let capacity = self.bytes.capacity
        defer { self.bytes.reserveCapacity(capacity) }
        return self.bytes.swapped()
    }

    /// Bytes rendered elsewhere (the registry of authprobe's own metrics).
    mutating func raw(_ bytes: [UInt8]) {
        self.bytes.append(contentsOf: bytes)
    }

    private mutating func labels(_ labels: LabelSet, _ extra: KeyValuePairs<String, String>) {
        guard !labels.bytes.isEmpty || !extra.isEmpty else { return }
        self.bytes.append(UInt8(ascii: "{"))
        self.bytes.append(contentsOf: labels.bytes)
        var first = labels.bytes.isEmpty
        for (name, value) in extra {
            if !first { self.bytes.append(UInt8(ascii: ",")) }
            first = false
            self.append(name)
            self.append("=\"")
            LabelSet.escape(value, into: &self.bytes)
            self.bytes.append(UInt8(ascii: "\""))
        }
        self.bytes.append(UInt8(ascii: "}"))
    }

    private mutating func number(_ value: Double) {
        if value.isNaN {
            self.append("NaN")
        } else if value.isInfinite {
            self.append(value > 0 ? "+Inf" : "-Inf")
        } else {
            self.append(String(value))
        }
    }

    private mutating func append(_ text: String) {
        self.bytes.append(contentsOf: text.utf8)
    }
}

extension Array {
    /// The array's elements, leaving it empty.
    fileprivate mutating func swapped() -> [Element] {
        var taken: [Element] = []
        swap(&taken, &self)
        return taken
    }
}

/// A label list prepared once (`environment="prod",client="svc"`), escaped as the format requires.
struct LabelSet: Sendable {
    let bytes: [UInt8]

    init(pairs: [(String, String)]) {
        var bytes: [UInt8] = []
        for (index, (name, value)) in pairs.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: name.utf8)
            bytes.append(contentsOf: "=\"".utf8)
            Self.escape(value, into: &bytes)
            bytes.append(UInt8(ascii: "\""))
        }
        self.bytes = bytes
    }

    static let empty = LabelSet(pairs: [])

    /// Backslash, double quote and line feed are escaped in label values.
    static func escape(_ value: String, into bytes: inout [UInt8]) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            default: bytes.append(byte)
            }
        }
    }
}
