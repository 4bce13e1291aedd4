import Foundation

/// Reads the files a configuration names: the YAML file itself, secret files, signing keys, TLS client
/// certificates and keys, CA files.
///
/// The only part of Config that touches the disk. ``ConfigParser`` decides which file to read and judges what
/// it holds; this type only reads, and says why it could not in words `check-config` prints after
/// `cannot read …:`.
struct ConfigFileReader: Sendable {
    /// How large each kind of file may be: larger files are refused, never read whole.
    enum Limit {
        /// The YAML configuration file.
        static let config = 1 << 20
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

    /// Why a file could not be read (`no such file`, `permission denied`, …), never including its contents.
    struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        var reason: String

        var description: String { self.reason }
    }

    /// The whole file as UTF-8 text.
    func text(atPath path: String) -> Result<String, Failure> {
        do {
            return .success(try String(contentsOfFile: path, encoding: .utf8))
        } catch {
            return .failure(Failure(reason: Self.reason(error)))
        }
    }

    /// The whole file as bytes.
    func bytes(atPath path: String) -> Result<[UInt8], Failure> {
        do {
            return .success(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        } catch {
            return .failure(Failure(reason: Self.reason(error)))
        }
    }

    /// Nil when the file exists and is readable now (it is read later, by the probe's TLS setup).
    func readabilityProblem(atPath path: String) -> Failure? {
        if FileManager.default.isReadableFile(atPath: path) { return nil }
        return Failure(reason: FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
    }

    /// Foundation's error in a few words: the POSIX reason when there is one.
    static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let posix = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        if nsError.domain == NSCocoaErrorDomain {
            switch nsError.code {
            case NSFileReadNoSuchFileError: return "no such file"
            case NSFileReadNoPermissionError: return "permission denied"
            default: break
            }
        }
        return nsError.localizedDescription
    }
}
