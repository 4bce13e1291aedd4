/// One problem found in a configuration file: where it is and what is wrong.
///
/// Printed as `file:line: field: problem`, the shape editors and CI logs link to.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file the problem is in.
    public var file: String
    /// 1-based line, when known.
    public var line: Int?
    /// Dotted path of the field, e.g. `environments[0].clients[1].client_secret`.
    public var field: String
    /// What is wrong, never including a secret value.
    public var problem: String

    public init(file: String, line: Int?, field: String, problem: String) {
        self.file = file
        self.line = line
        self.field = field
        self.problem = problem
    }

    public var description: String {
        if let line = self.line {
            return "\(self.file):\(line): \(self.field): \(self.problem)"
        }
        return "\(self.file): \(self.field): \(self.problem)"
    }
}

/// All problems of one configuration file, found in a single validation pass.
public struct ConfigValidationError: Error, Sendable, CustomStringConvertible {
    /// Every problem found, in file order.
    public var errors: [ConfigError]

    /// How many problems ``description`` prints: the first ones are what to fix, a thousand more bury them.
    public static let printedLimit = 20

    public init(errors: [ConfigError]) {
        self.errors = errors
    }

    /// One problem per line, at most ``printedLimit``, then one `… and N more errors` line.
    public var description: String {
        var lines = self.errors.prefix(Self.printedLimit).map(\.description)
        let more = self.errors.count - Self.printedLimit
        if more > 0 {
            lines.append("… and \(more) more \(more == 1 ? "error" : "errors")")
        }
        return lines.joined(separator: "\n")
    }
}
