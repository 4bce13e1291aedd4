/// The version authprobe reports in `authprobe_build_info` and its `User-Agent`.
public enum AuthProbeVersion {
    public static let current = "0.1.0"
}
