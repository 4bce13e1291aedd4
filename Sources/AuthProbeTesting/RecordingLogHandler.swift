import Logging
import NIOConcurrencyHelpers

/// A log handler that keeps every rendered line (message and metadata), for tests that read the log.
public struct RecordingLogHandler: LogHandler {
    /// The shared buffer all copies of the handler append to.
    public final class Lines: Sendable {
        private let box = NIOLockedValueBox<[String]>([])

        public init() {}

        public var all: [String] { self.box.withLockedValue { $0 } }

        func append(_ line: String) {
            self.box.withLockedValue { $0.append(line) }
        }
    }

    public let lines: Lines
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace

    public init(lines: Lines) {
        self.lines = lines
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        self.lines.append("\(event.level) \(event.message) \(rendered)")
    }

    /// A logger at trace level that records into a new buffer.
    public static func logger(label: String = "test") -> (Logger, Lines) {
        let lines = Lines()
        var logger = Logger(label: label) { _ in RecordingLogHandler(lines: lines) }
        logger.logLevel = .trace
        return (logger, lines)
    }
}
