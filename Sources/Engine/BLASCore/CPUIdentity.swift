import CKernels

/// The instruction-set features that decide which OpenBLAS kernels a CPU can run. Each one is
/// reported only when the OS also saves the registers it needs (XCR0).
public enum CPUFeature: String, CaseIterable, Sendable, Comparable {
  case sse3, avx, fma, avx2
  case avx512f, avx512dq, avx512cd, avx512bw, avx512vl, avx512bf16, avx512fp16
  case amxTile = "amx_tile"
  case amxBF16 = "amx_bf16"

  public static func < (a: CPUFeature, b: CPUFeature) -> Bool { a.rawValue < b.rawValue }
}

/// Who made the CPU, which model it is and what it can run: the key of the cached kernel
/// choice, and the input of `BLASCoreCatalog.candidates`.
public struct CPUIdentity: Sendable, Equatable {
  /// The CPUID vendor string: GenuineIntel, AuthenticAMD, HygonGenuine, …
  public var vendor: String
  /// Family and model as Linux reports them (extended fields folded in).
  public var family: Int
  public var model: Int
  public var stepping: Int
  public var features: Set<CPUFeature>
  /// The brand string, for logs (not part of the identity's key).
  public var brand: String

  public init(
    vendor: String,
    family: Int,
    model: Int,
    stepping: Int = 0,
    features: Set<CPUFeature>,
    brand: String = ""
  ) {
    self.vendor = vendor
    self.family = family
    self.model = model
    self.stepping = stepping
    self.features = features
    self.brand = brand
  }

  /// AMD, or Hygon (licensed Zen cores).
  public var isAMD: Bool { self.vendor == "AuthenticAMD" || self.vendor == "HygonGenuine" }

  /// `vendor family model stepping features`, the text the cache key hashes.
  public var fingerprint: String {
    let flags = self.features.sorted().map(\.rawValue).joined(separator: ",")
    return
      "\(self.vendor) family=\(self.family) model=\(self.model) stepping=\(self.stepping) \(flags)"
  }

  /// The CPU this process runs on (read once).
  public static let current = CPUIdentity.read()

  static func read() -> CPUIdentity {
    let leaf0 = cpuid(0)
    let vendor = text([leaf0[1], leaf0[3], leaf0[2]])
    let signature = cpuid(1)[0]
    let baseFamily = Int((signature >> 8) & 0xF)
    let baseModel = Int((signature >> 4) & 0xF)
    let family = baseFamily == 0xF ? baseFamily + Int((signature >> 20) & 0xFF) : baseFamily
    let model =
      baseFamily == 0x6 || baseFamily == 0xF
      ? baseModel | Int((signature >> 16) & 0xF) << 4 : baseModel
    let highest = cpuid(0x8000_0000)[0]
    let brand =
      highest >= 0x8000_0004 ? text((0x8000_0002...0x8000_0004).flatMap { cpuid($0) }) : ""
    return CPUIdentity(
      vendor: vendor,
      family: family,
      model: model,
      stepping: Int(signature & 0xF),
      features: decodeFeatures(
        leaf1: cpuid(1),
        leaf7: cpuid(7),
        leaf7s1: cpuid(7, 1),
        xcr0: ckernels_xcr0()
      ),
      brand: brand.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    )
  }

  /// The features from CPUID leaves 1, 7.0 and 7.1 (EAX, EBX, ECX, EDX each) and XCR0.
  static func decodeFeatures(leaf1: [UInt32], leaf7: [UInt32], leaf7s1: [UInt32], xcr0: UInt64)
    -> Set<CPUFeature>
  {
    func bit(_ register: UInt32, _ n: UInt32) -> Bool { register & (1 << n) != 0 }
    let ymm = xcr0 & 0x6 == 0x6  // SSE and AVX state
    let zmm = ymm && xcr0 & 0xE0 == 0xE0  // opmask, upper zmm0-15, zmm16-31
    let tiles = xcr0 & 0x6_0000 == 0x6_0000  // TILECFG, TILEDATA
    var features: Set<CPUFeature> = []
    let (ecx1, ebx7, edx7, eax7s1) = (leaf1[2], leaf7[1], leaf7[3], leaf7s1[0])
    let table: [(CPUFeature, Bool)] = [
      (.sse3, bit(ecx1, 0)),
      (.avx, ymm && bit(ecx1, 28)), (.fma, ymm && bit(ecx1, 12)), (.avx2, ymm && bit(ebx7, 5)),
      (.avx512f, zmm && bit(ebx7, 16)), (.avx512dq, zmm && bit(ebx7, 17)),
      (.avx512cd, zmm && bit(ebx7, 28)), (.avx512bw, zmm && bit(ebx7, 30)),
      (.avx512vl, zmm && bit(ebx7, 31)), (.avx512bf16, zmm && bit(eax7s1, 5)),
      (.avx512fp16, zmm && bit(edx7, 23)),
      (.amxTile, tiles && bit(edx7, 24)), (.amxBF16, tiles && bit(edx7, 22)),
    ]
    for (feature, present) in table where present { features.insert(feature) }
    return features
  }

  private static func cpuid(_ leaf: UInt32, _ subleaf: UInt32 = 0) -> [UInt32] {
    var regs: [UInt32] = [0, 0, 0, 0]
    _ = regs.withUnsafeMutableBufferPointer { ckernels_cpuid(leaf, subleaf, $0.baseAddress) }
    return regs
  }

  /// Registers as little-endian ASCII (vendor and brand strings), NULs dropped.
  private static func text(_ registers: [UInt32]) -> String {
    let bytes = registers.flatMap { r in (0..<4).map { UInt8(truncatingIfNeeded: r >> ($0 * 8)) } }
    return String(decoding: bytes.filter { $0 != 0 }, as: UTF8.self)
  }
}
