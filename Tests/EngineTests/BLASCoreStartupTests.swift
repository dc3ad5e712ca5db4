import Testing

@testable import Engine

@Suite struct BLASCoreStartupTests {
  let cpu = CPUIdentity(
    vendor: "GenuineIntel",
    family: 6,
    model: 207,
    features: [
      .avx, .avx2, .fma, .avx512f, .avx512bw, .avx512vl, .avx512dq, .avx512cd, .avx512bf16,
    ]
  )

  /// The plan for `running`, probing through `speeds` (nil: unusable) and recording the calls.
  func plan(
    _ setting: BLASCoreSetting = .auto,
    running: String = "Prescott",
    environment: [String: String] = [:],
    directory: String? = nil,
    speeds: [String: Double?] = [:],
    probed: inout [String]
  ) -> BLASCoreStartup.Plan {
    BLASCoreStartup.plan(
      setting: setting,
      environment: environment,
      cacheDirectory: directory,
      cpu: self.cpu,
      running: running,
      library: "OpenBLAS 0.3.21 test"
    ) { core in
      probed.append(core)
      guard let speed = speeds[core] ?? nil else {
        return BLASProbeReport(core: core, outcome: .unusable("killed by signal 4"))
      }
      return BLASProbeReport(core: core, outcome: .correct(gflops: speed))
    }
  }

  @Test func probesBetterSetsCachesTheFastestAndReexecutes() throws {
    let directory = try temporaryDirectory()
    defer { removeTree(directory) }
    var probed: [String] = []
    let speeds: [String: Double?] = [
      "Cooperlake": 150, "SkylakeX": 212, "Haswell": 140, "Prescott": 28,
    ]
    let first = plan(directory: directory, speeds: speeds, probed: &probed)
    guard case .reexec(let selection) = first else {
      Issue.record("no re-exec: \(first)")
      return
    }
    #expect(selection.core == "SkylakeX" && selection.source == .probed)
    #expect(
      selection.reason.hasPrefix(
        "OpenBLAS chose Prescott; probed Cooperlake 150 GFLOP/s, SkylakeX 212"
      )
    )
    #expect(selection.reason.hasSuffix("cached in \(directory)/blas-core.cache"))
    #expect(
      probed == ["Cooperlake", "SkylakeX", "Haswell", "Prescott"] + [
        "Cooperlake", "SkylakeX", "Haswell", "Prescott",
      ]
    )

    probed = []
    let second = plan(directory: directory, speeds: speeds, probed: &probed)
    #expect(probed.isEmpty)
    guard case .reexec(let cached) = second else {
      Issue.record("no re-exec from the cache: \(second)")
      return
    }
    #expect(cached.core == "SkylakeX" && cached.source == .cached)
    #expect(cached.reason.contains("probed Cooperlake 150 GFLOP/s"))
  }

  @Test func aCrashedOrWrongCandidateIsNeverChosen() {
    var probed: [String] = []
    let result = plan(
      speeds: ["Cooperlake": nil, "SkylakeX": 90, "Haswell": 100, "Prescott": 28],
      probed: &probed
    )
    guard case .reexec(let selection) = result else {
      Issue.record("\(result)")
      return
    }
    #expect(selection.core == "Haswell")
    #expect(selection.reason.contains("Cooperlake unusable (killed by signal 4)"))
    #expect(selection.reason.hasSuffix("no state directory, not cached"))
    #expect(probed.filter { $0 == "Cooperlake" }.count == 1)
  }

  @Test func whenEveryCandidateFailsOpenBLASsOwnChoiceStays() {
    var probed: [String] = []
    let result = plan(speeds: ["Prescott": 28], probed: &probed)
    guard case .run(let selection) = result else {
      Issue.record("\(result)")
      return
    }
    #expect(selection.core == "Prescott" && selection.source == .probed)
    let none = plan(speeds: [:], probed: &probed)
    guard case .run(let fallback) = none else {
      Issue.record("\(none)")
      return
    }
    #expect(fallback.core == "Prescott" && fallback.source == .fallback)
  }

  @Test func nothingIsProbedWhenOpenBLASAlreadyRunsTheBest() {
    var probed: [String] = []
    let result = plan(running: "Cooperlake", probed: &probed)
    #expect(probed.isEmpty)
    #expect(
      result
        == .run(
          .init(
            core: "Cooperlake",
            source: .openblas,
            reason: "OpenBLAS's own choice, the best this CPU runs"
          )
        )
    )
    // A name the catalogue does not know (a newer OpenBLAS) is kept.
    #expect(
      plan(running: "SapphireRapids", probed: &probed)
        == .run(
          .init(
            core: "SapphireRapids",
            source: .openblas,
            reason: "OpenBLAS's own choice, the best this CPU runs"
          )
        )
    )
    #expect(probed.isEmpty)
  }

  @Test func theEnvironmentAndTheSettingOverride() {
    var probed: [String] = []
    let pinned = plan(
      running: "Haswell",
      environment: ["OPENBLAS_CORETYPE": "Haswell"],
      probed: &probed
    )
    #expect(
      pinned
        == .run(
          .init(
            core: "Haswell",
            source: .environment,
            reason: "OPENBLAS_CORETYPE=Haswell set by the environment"
          )
        )
    )
    let keep = plan(.keep, probed: &probed)
    #expect(
      keep
        == .run(
          .init(core: "Prescott", source: .keep, reason: "blas_core: keep, OpenBLAS's own choice")
        )
    )
    let named = plan(.core("Haswell"), probed: &probed)
    #expect(
      named
        == .reexec(
          .init(
            core: "Haswell",
            source: .setting,
            reason: "blas_core: Haswell; OpenBLAS chose Prescott"
          )
        )
    )
    guard case .run = plan(.core("Prescott"), probed: &probed) else {
      Issue.record("re-exec for the core already running")
      return
    }
    #expect(probed.isEmpty)
    // The test hook makes OPENBLAS_CORETYPE play OpenBLAS's own choice.
    let hooked = plan(
      running: "Prescott",
      environment: ["OPENBLAS_CORETYPE": "Prescott", BLASCoreStartup.ownChoiceTestVariable: "1"],
      speeds: ["Haswell": 100, "Prescott": 28],
      probed: &probed
    )
    guard case .reexec(let selection) = hooked else {
      Issue.record("\(hooked)")
      return
    }
    #expect(selection.core == "Haswell")
  }

  @Test func theReexecutedProcessNeverExecutesAgain() {
    var probed: [String] = []
    let chosen = BLASCoreSelection(
      core: "SkylakeX",
      source: .probed,
      reason: "OpenBLAS chose Prescott; probed …"
    )
    let marker = [BLASCoreStartup.markerVariable: chosen.encoded, "OPENBLAS_CORETYPE": "SkylakeX"]
    #expect(plan(running: "SkylakeX", environment: marker, probed: &probed) == .run(chosen))
    // OpenBLAS did not take the name: carry on with what it runs, say so, never loop.
    guard case .run(let other) = plan(running: "Prescott", environment: marker, probed: &probed)
    else {
      Issue.record("re-exec with a marker")
      return
    }
    #expect(other.core == "Prescott" && other.source == .fallback)
    guard
      case .run = plan(
        running: "Prescott",
        environment: [BLASCoreStartup.markerVariable: "junk"],
        probed: &probed
      )
    else {
      Issue.record("re-exec with a junk marker")
      return
    }
    #expect(probed.isEmpty)
  }

  @Test func anUnwritableCacheIsSaid() {
    var probed: [String] = []
    let result = plan(
      directory: "/nonexistent/rlhfd-state",
      speeds: ["Haswell": 100, "Prescott": 28],
      probed: &probed
    )
    guard case .reexec(let selection) = result else {
      Issue.record("\(result)")
      return
    }
    #expect(
      selection.reason.contains("not cached: cannot write /nonexistent/rlhfd-state/blas-core.cache")
    )
  }
}
