import Foundation

#if os(Linux)
    import Glibc
#endif

/// How the process uses memory: glibc's allocator, and the pages of its code.
///
/// A monitor of thousands of targets allocates from several threads
/// (event loops, the concurrency pool, the server); with one malloc arena per thread, freed memory is spread
/// over arenas that rarely give it back, and the resident size grows with every large scrape.
public enum ProcessMemory {
    /// At most two malloc arenas: measured with 10,000 targets, this keeps the resident size flat (about
    /// 150 MB instead of 200+ after a scrape) at no measurable cost in CPU on two cores. Call first thing.
    public static func limitArenas() {
        #if os(Linux)
            _ = glibcMallopt(-8, 2)  // M_ARENA_MAX
        #endif
    }

    /// Returns freed memory to the system: after start, when a large configuration and the stored states
    /// have left many small freed blocks.
    public static func trim() {
        #if os(Linux)
            _ = glibcMallocTrim(0)
        #endif
    }

    /// A /proc file read to its end (its reported size is 0, and a read may return less than a page).
    static func procFile(_ path: String) -> String? {
        #if os(Linux)
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { return nil }
            defer { close(descriptor) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { return count == 0 ? String(decoding: bytes, as: UTF8.self) : nil }
                bytes += chunk[..<count]
            }
        #else
            return nil
        #endif
    }

    /// Unmaps the code pages start-up mapped, and asks the kernel to map code only as it runs from now on.
    ///
    /// Most of a small monitor's resident size is code, not data: on a page fault the kernel maps the pages
    /// around the one needed too ("fault-around", 64 KB), so authprobe's 16 MB of code and the Swift and
    /// Foundation libraries (another 20 MB) end up mostly resident although a monitor runs a small part of them.
    /// `MADV_RANDOM` on each executable file mapping turns fault-around and read-ahead off for it, and
    /// `MADV_DONTNEED` drops what start-up mapped; the pages stay in the page cache, shared, and come back one
    /// at a time as they are used. Measured with one target: 43 MB resident before, 28 MB after. Only mappings
    /// that are executable and never written (`r-xp`, backed by a file) are touched: nothing there can be lost.
    public static func releaseCodePages() {
        #if os(Linux)
            guard let maps = Self.procFile("/proc/self/maps") else { return }
            for line in maps.split(separator: "\n") {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count >= 6, fields[1] == "r-xp", fields[5].hasPrefix("/") else { continue }
                let bounds = fields[0].split(separator: "-")
                guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
                    end > start, let address = UnsafeMutableRawPointer(bitPattern: start)
                else { continue }
                _ = madvise(address, Int(end - start), MADV_RANDOM)
                _ = madvise(address, Int(end - start), MADV_DONTNEED)
            }
        #endif
    }
}

#if os(Linux)
    /// glibc's `mallopt`, which the Glibc module does not export.
    @_silgen_name("mallopt")
    private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32

    /// glibc's `malloc_trim`, which the Glibc module does not export.
    @_silgen_name("malloc_trim")
    private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
