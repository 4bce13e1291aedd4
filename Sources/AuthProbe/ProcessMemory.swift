/// How the process uses glibc's allocator. A monitor of thousands of targets allocates from several threads
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
}

#if os(Linux)
    /// glibc's `mallopt`, which the Glibc module does not export.
    @_silgen_name("mallopt")
    private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32

    /// glibc's `malloc_trim`, which the Glibc module does not export.
    @_silgen_name("malloc_trim")
    private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
