/// The x86-64 kernel sets ("cores") of Debian's OpenBLAS 0.3.21 DYNAMIC_ARCH build, and which
/// of them a CPU can run. The names are those `OPENBLAS_CORETYPE` accepts and
/// `openblas_get_corename()` reports; 0.3.21 knows no SapphireRapids (an AMX CPU runs the
/// Cooperlake kernels, its best set). One place for the order of preference.
public enum BLASCoreCatalog {
  /// A kernel set: its generation (higher is newer) and what it needs from the CPU.
  public struct Core: Sendable, Equatable {
    public var name: String
    /// Newer kernel sets rank higher; equal ranks are alternatives (Haswell, Zen).
    public var rank: Int
    /// Features the kernels execute; nil for sets never chosen automatically.
    public var requires: Set<CPUFeature>?
  }

  private static let avx512: Set<CPUFeature> = [
    .avx512f, .avx512dq, .avx512cd, .avx512bw, .avx512vl,
  ]

  /// Every name 0.3.21 accepts, oldest first. The ones with requirements are candidates.
  public static let cores: [Core] = [
    Core(name: "Prescott", rank: 1, requires: nil), Core(name: "Atom", rank: 1, requires: nil),
    Core(name: "Opteron", rank: 1, requires: nil),
    Core(name: "Opteron_SSE3", rank: 1, requires: nil),
    Core(name: "Core2", rank: 2, requires: nil), Core(name: "Penryn", rank: 2, requires: nil),
    Core(name: "Dunnington", rank: 2, requires: nil),
    Core(name: "Barcelona", rank: 2, requires: nil),
    Core(name: "Nano", rank: 2, requires: nil), Core(name: "Bobcat", rank: 2, requires: nil),
    Core(name: "Nehalem", rank: 3, requires: nil),
    Core(name: "Sandybridge", rank: 4, requires: nil),
    Core(name: "Bulldozer", rank: 4, requires: nil),
    Core(name: "Piledriver", rank: 5, requires: nil),
    Core(name: "Steamroller", rank: 5, requires: nil),
    Core(name: "Excavator", rank: 5, requires: nil),
    Core(name: "Haswell", rank: 6, requires: [.avx, .avx2, .fma]),
    Core(name: "Zen", rank: 6, requires: [.avx, .avx2, .fma]),
    Core(name: "SkylakeX", rank: 7, requires: avx512.union([.avx, .avx2, .fma])),
    Core(name: "Cooperlake", rank: 8, requires: avx512.union([.avx, .avx2, .fma, .avx512bf16])),
  ]

  /// The catalogue entry named `name`, ignoring case (OpenBLAS ignores it too).
  public static func core(named name: String) -> Core? {
    self.cores.first { $0.name.lowercased() == name.lowercased() }
  }

  /// The kernel sets `cpu` can run, best first: by rank, then Zen before Haswell on AMD and
  /// Haswell before Zen elsewhere (Zen's block sizes are tuned for AMD caches). The Zen
  /// kernels are offered on AMD CPUs only.
  public static func candidates(for cpu: CPUIdentity) -> [String] {
    self.cores
      .filter { core in
        guard let needs = core.requires, needs.isSubset(of: cpu.features) else { return false }
        return core.name != "Zen" || cpu.isAMD
      }
      .map { core in (core.name, core.rank * 2 + (core.name == "Zen" ? 1 : 0)) }
      .sorted { $0.1 > $1.1 }
      .map(\.0)
  }

  /// Whether OpenBLAS's own choice `chosen` is older than the best candidate, i.e. worth
  /// probing. A name missing from the catalogue (a newer OpenBLAS) is never second-guessed.
  public static func isOlder(_ chosen: String, than best: String) -> Bool {
    guard let own = self.core(named: chosen), let other = self.core(named: best) else {
      return false
    }
    return own.rank < other.rank
  }
}

/// The `blas_core` setting: `auto` (probe when OpenBLAS picked an older kernel set than the
/// CPU runs), `keep` (OpenBLAS's own choice, no probing) or a core name from the catalogue.
public enum BLASCoreSetting: Sendable, Equatable, CustomStringConvertible {
  case auto
  case keep
  case core(String)

  /// Parses a setting value; a core name comes back spelled as OpenBLAS spells it.
  public init(parsing text: String) throws(BLASCoreError) {
    switch text.lowercased() {
    case "auto": self = .auto
    case "keep": self = .keep
    default:
      guard let core = BLASCoreCatalog.core(named: text) else {
        throw BLASCoreError(
          "'blas_core' must be auto, keep or an OpenBLAS 0.3.21 core name ("
            + BLASCoreCatalog.cores.map(\.name).joined(separator: ", ") + "), not '\(text)'"
        )
      }
      self = .core(core.name)
    }
  }

  public var description: String {
    switch self {
    case .auto: "auto"
    case .keep: "keep"
    case .core(let name): name
    }
  }
}

/// Why the kernel choice could not be made or recorded, with a message saying what to fix.
public struct BLASCoreError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { self.message }
}
