/// The database could not be opened, migrated or read at start; names the file, so the operator knows which.
public struct StoreError: Error, CustomStringConvertible, Equatable {
    private enum Code: Equatable {
        case cannotOpen
        case locked
        case cannotMigrate
        case cannotRead
    }

    private let code: Code
    /// The database file.
    public let path: String
    /// What went wrong, in SQLite's or the system's words.
    public let reason: String

    private init(_ code: Code, path: String, reason: String) {
        self.code = code
        self.path = path
        self.reason = reason
    }

    /// The file or its directory could not be created or opened.
    static func cannotOpen(_ path: String, _ reason: String) -> StoreError {
        StoreError(.cannotOpen, path: path, reason: reason)
    }
    /// Another process held the database locked for longer than authprobe waits at start.
    static func locked(_ path: String, _ reason: String) -> StoreError {
        StoreError(.locked, path: path, reason: reason)
    }
    /// A migration failed.
    static func cannotMigrate(_ path: String, _ reason: String) -> StoreError {
        StoreError(.cannotMigrate, path: path, reason: reason)
    }
    /// The targets' states could not be read.
    static func cannotRead(_ path: String, _ reason: String) -> StoreError {
        StoreError(.cannotRead, path: path, reason: reason)
    }

    /// Whether another process held the database locked past the wait.
    public var isLocked: Bool { self.code == .locked }

    public var description: String {
        switch self.code {
        case .cannotOpen: return "cannot open the database \(self.path): \(self.reason)"
        case .locked: return "the database \(self.path) is locked by another process: \(self.reason)"
        case .cannotMigrate: return "cannot migrate the database \(self.path): \(self.reason)"
        case .cannotRead: return "cannot read the targets' states from the database \(self.path): \(self.reason)"
        }
    }
}
