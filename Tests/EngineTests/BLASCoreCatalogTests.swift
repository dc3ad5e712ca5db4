import Testing

@testable import Engine

@Suite struct BLASCoreCatalogTests {
  static let avx2: Set<CPUFeature> = [.sse3, .avx, .fma, .avx2]
  static let avx512 = avx2.union([.avx512f, .avx512dq, .avx512cd, .avx512bw, .avx512vl])
  static let sapphire = avx512.union([.avx512bf16, .avx512fp16, .amxTile, .amxBF16])

  @Test func candidatesFollowTheFeaturesBestFirst() {
    let intel = { CPUIdentity(vendor: "GenuineIntel", family: 6, model: 207, features: $0) }
    let amd = { CPUIdentity(vendor: "AuthenticAMD", family: 25, model: 33, features: $0) }
    #expect(
      BLASCoreCatalog.candidates(for: intel(Self.sapphire)) == [
        "Cooperlake", "SkylakeX", "Haswell",
      ]
    )
    #expect(BLASCoreCatalog.candidates(for: intel(Self.avx512)) == ["SkylakeX", "Haswell"])
    #expect(BLASCoreCatalog.candidates(for: intel(Self.avx2)) == ["Haswell"])
    // Zen 3: AVX2 only, Zen's kernels first; Zen 5: AVX-512 with BF16.
    #expect(BLASCoreCatalog.candidates(for: amd(Self.avx2)) == ["Zen", "Haswell"])
    #expect(
      BLASCoreCatalog.candidates(for: amd(Self.avx512.union([.avx512bf16])))
        == ["Cooperlake", "SkylakeX", "Zen", "Haswell"]
    )
    // AVX-512F alone (no BW/VL/DQ, as on Knights Landing) is not enough for SkylakeX.
    #expect(BLASCoreCatalog.candidates(for: intel(Self.avx2.union([.avx512f]))) == ["Haswell"])
    #expect(BLASCoreCatalog.candidates(for: intel([.sse3, .avx])).isEmpty)
  }

  @Test func olderMeansALowerGeneration() {
    #expect(BLASCoreCatalog.isOlder("Prescott", than: "SkylakeX"))
    #expect(BLASCoreCatalog.isOlder("Haswell", than: "Cooperlake"))
    #expect(!BLASCoreCatalog.isOlder("Zen", than: "Haswell"))
    #expect(!BLASCoreCatalog.isOlder("Cooperlake", than: "Cooperlake"))
    // A set a newer OpenBLAS knows and this catalogue does not is never second-guessed.
    #expect(!BLASCoreCatalog.isOlder("SapphireRapids", than: "Cooperlake"))
  }

  @Test func settingParsesNamesAsOpenBLASSpellsThem() throws {
    #expect(try BLASCoreSetting(parsing: "auto") == .auto)
    #expect(try BLASCoreSetting(parsing: "KEEP") == .keep)
    #expect(try BLASCoreSetting(parsing: "skylakex") == .core("SkylakeX"))
    #expect(throws: BLASCoreError.self) { try BLASCoreSetting(parsing: "SapphireRapids") }
    do {
      _ = try BLASCoreSetting(parsing: "")
      Issue.record("an empty setting parsed")
    } catch {
      #expect(error.message.contains("'blas_core' must be auto, keep or"))
    }
  }

  @Test func featuresNeedTheOSToSaveTheRegisters() {
    // CPUID: SSE3, FMA, AVX (leaf 1 ECX); AVX2, AVX-512F/DQ/CD/BW/VL (leaf 7 EBX); AMX-BF16,
    // AMX-TILE (leaf 7 EDX); AVX512-BF16 (leaf 7.1 EAX).
    let leaf1: [UInt32] = [0, 0, 1 | 1 << 12 | 1 << 28, 0]
    let leaf7: [UInt32] = [
      0, 1 << 5 | 1 << 16 | 1 << 17 | 1 << 28 | 1 << 30 | 1 << 31, 0, 1 << 22 | 1 << 24,
    ]
    let leaf7s1: [UInt32] = [1 << 5, 0, 0, 0]
    let all = CPUIdentity.decodeFeatures(
      leaf1: leaf1,
      leaf7: leaf7,
      leaf7s1: leaf7s1,
      xcr0: 0x6_00E7
    )
    #expect(all == Self.sapphire.subtracting([.avx512fp16]))
    let noZMM = CPUIdentity.decodeFeatures(leaf1: leaf1, leaf7: leaf7, leaf7s1: leaf7s1, xcr0: 0x7)
    #expect(noZMM == Self.avx2)
    #expect(
      CPUIdentity.decodeFeatures(leaf1: leaf1, leaf7: leaf7, leaf7s1: leaf7s1, xcr0: 0) == [.sse3]
    )
  }

  @Test func thisCPUIsReadAndItsFingerprintIsStable() {
    let cpu = CPUIdentity.current
    #expect(!cpu.vendor.isEmpty)
    #expect(cpu.fingerprint == CPUIdentity.read().fingerprint)
    // The engine is built for x86-64-v3, so any CPU running these tests has AVX2 and FMA.
    #expect(cpu.features.isSuperset(of: [.avx, .avx2, .fma]))
    #expect(BLASCoreCatalog.candidates(for: cpu).contains("Haswell"))
  }
}
