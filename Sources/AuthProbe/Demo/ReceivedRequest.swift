/// One request the ``LoopbackProvider`` received (tests check what authprobe sent).
public struct ReceivedRequest: Sendable {
    public var method: String
    public var path: String
    /// In the order received, names in their canonical spelling.
    public var headers: [(String, String)]
    public var body: String

    /// The first value of the header `name`, compared without regard to case.
    public func header(_ name: String) -> String? {
        self.headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}
