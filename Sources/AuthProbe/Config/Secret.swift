/// A credential value that never prints itself.
///
/// `description`, `debugDescription`, string interpolation and `Encodable` all give `<secret>`,
/// so a secret that ends up in a log line, an error message or a JSON document is harmless.
/// The raw value is read only through ``withRawValue(_:)`` at the line that sends it.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable,
    Encodable
{
    private let value: String

    /// Wraps a raw secret value.
    public init(_ value: String) {
        self.value = value
    }

    /// Always `<secret>`.
    public var description: String { "<secret>" }

    /// Always `<secret>`.
    public var debugDescription: String { "<secret>" }

    /// No children: `dump`, debuggers and test failure output must not see the value.
    public var customMirror: Mirror { Mirror(self, children: [:]) }

    /// True when the secret is the empty string (a configuration error for credentials).
    public var isEmpty: Bool { self.value.isEmpty }

    /// Gives the raw value to `body`; callers use it only to build the request that sends it.
    public func withRawValue<Result>(_ body: (String) throws -> Result) rethrows -> Result {
        try body(self.value)
    }

    /// Encodes as `<secret>`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode("<secret>")
    }
}
