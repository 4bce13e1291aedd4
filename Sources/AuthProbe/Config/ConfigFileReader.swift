#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads the files a configuration names: the YAML file itself, secret files, signing keys, TLS client
/// certificates and keys, CA files.
///
/// The only part of Config that touches the disk. ``ConfigParser`` decides which file to read and judges what
/// it holds; this type only reads, and says why it could not in words `check-config` prints after
/// `cannot read …:`. Every read is bounded: only regular files are opened (a FIFO would block `open`, a device
/// such as `/dev/zero` never ends), and at most one byte more than the file's ``Limit`` is read.
struct ConfigFileReader: Sendable {
    /// How large each kind of file may be: larger files are refused, never read whole.
    enum Limit {
        /// The YAML configuration file: room for about 90,000 targets.
        static let config = 16 << 20
        /// A `client_secret_file`.
        static let secret = 64 << 10
        /// A PEM file: signing key, TLS client certificate or key, CA file.
        static let pem = 1 << 20

        /// `64 KiB`, `1 MiB`: how a limit reads in an error.
        static func text(_ bytes: Int) -> String {
            if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
            if bytes >= 1 << 10, bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
            return "\(bytes) bytes"
        }
    }

    /// Why a file could not be read (`no such file`, `is a FIFO, not a regular file`, …), never its contents.
    struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        var reason: String

        var description: String { self.reason }

        static let notUTF8 = Failure(reason: "not valid UTF-8")

        static func tooLarge(_ limit: Int) -> Failure {
            Failure(reason: "is larger than the limit of \(Limit.text(limit))")
        }

        /// The failure of a system call, in a few words.
        static func system(_ code: Int32) -> Failure {
            switch code {
            case ENOENT: return Failure(reason: "no such file")
            case EACCES, EPERM: return Failure(reason: "permission denied")
            default: return Failure(reason: String(cString: strerror(code)))
            }
        }
    }

    /// The file's bytes, when it is a regular file of at most `limit` bytes.
    func bytes(atPath path: String, limit: Int) -> Result<[UInt8], Failure> {
        // stat first: opening a FIFO waits for a writer, and a device can be read forever.
        var info = stat()
        guard stat(path, &info) == 0 else { return .failure(.system(errno)) }
        if let failure = Self.notRegular(info.st_mode) { return .failure(failure) }
        if info.st_size > limit { return .failure(.tooLarge(limit)) }
        // O_NONBLOCK: should the path have become a FIFO since stat, open returns at once instead of waiting.
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard descriptor >= 0 else { return .failure(.system(errno)) }
        defer { close(descriptor) }
        guard fstat(descriptor, &info) == 0 else { return .failure(.system(errno)) }
        if let failure = Self.notRegular(info.st_mode) { return .failure(failure) }
        // The size seen by stat may be stale (a growing file, /proc): read at most limit + 1 bytes to know.
        var contents: [UInt8] = []
        contents.reserveCapacity(min(Int(info.st_size), limit) + 1)
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while contents.count <= limit {
            let wanted = min(chunk.count, limit + 1 - contents.count)
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, wanted) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(.system(errno))
            }
            if count == 0 { break }
            contents.append(contentsOf: chunk[..<count])
        }
        if contents.count > limit { return .failure(.tooLarge(limit)) }
        return .success(contents)
    }

    /// The file as UTF-8 text, when it is a regular file of at most `limit` bytes.
    func text(atPath path: String, limit: Int) -> Result<String, Failure> {
        self.bytes(atPath: path, limit: limit).flatMap { bytes in
            Self.invalidUTF8Line(bytes) == nil ? .success(String(decoding: bytes, as: UTF8.self)) : .failure(.notUTF8)
        }
    }

    /// Nil when the file can be read now within `limit` (it is read again later, by the probe's TLS setup).
    func readabilityProblem(atPath path: String, limit: Int) -> Failure? {
        if case .failure(let failure) = self.bytes(atPath: path, limit: limit) { return failure }
        return nil
    }

    /// The 1-based line of the first byte sequence that is not UTF-8; nil when all of `bytes` is.
    static func invalidUTF8Line(_ bytes: [UInt8]) -> Int? {
        if Self.isUTF8(bytes[...]) { return nil }
        // A newline byte is never part of a multi-byte sequence, so lines can be checked one by one.
        for (index, line) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated()
        where !Self.isUTF8(line) {
            return index + 1
        }
        return nil
    }

    private static func isUTF8(_ bytes: ArraySlice<UInt8>) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    /// Why a file of this mode is not read; nil for a regular file.
    private static func notRegular(_ mode: mode_t) -> Failure? {
        let kind: String
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: kind = "a directory"
        case S_IFIFO: kind = "a FIFO"
        case S_IFCHR, S_IFBLK: kind = "a device"
        case S_IFSOCK: kind = "a socket"
        default: kind = "a special file"
        }
        return Failure(reason: "is \(kind), not a regular file")
    }
}
