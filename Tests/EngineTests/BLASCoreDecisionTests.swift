import Testing

@testable import Engine

@Suite struct BLASCoreDecisionTests {
  func ok(_ core: String, _ gflops: Double) -> BLASProbeReport {
    BLASProbeReport(core: core, outcome: .correct(gflops: gflops))
  }
  func bad(_ core: String) -> BLASProbeReport {
    BLASProbeReport(core: core, outcome: .unusable("x"))
  }

  @Test func fastestCorrectWinsUnusableNever() {
    #expect(
      BLASCoreDecision.choose([ok("SkylakeX", 150), ok("Haswell", 212), ok("Prescott", 28)])
        == "Haswell"
    )
    #expect(
      BLASCoreDecision.choose([bad("Cooperlake"), ok("SkylakeX", 150), ok("Prescott", 28)])
        == "SkylakeX"
    )
    // Wrong results beat nothing, however fast they came.
    #expect(BLASCoreDecision.choose([bad("SkylakeX"), ok("Prescott", 28)]) == "Prescott")
    #expect(BLASCoreDecision.choose([bad("SkylakeX"), bad("Prescott")]) == nil)
    #expect(BLASCoreDecision.choose([]) == nil)
  }

  @Test func withinNoiseTheEarlierPreferenceWins() {
    #expect(
      BLASCoreDecision.choose([ok("Cooperlake", 205), ok("SkylakeX", 212), ok("Prescott", 28)])
        == "Cooperlake"
    )
    #expect(BLASCoreDecision.choose([ok("Cooperlake", 180), ok("SkylakeX", 212)]) == "SkylakeX")
  }

  @Test func roundsKeepTheBestAndNeverRetryAnUnusableCore() {
    var calls: [String] = []
    var speeds = ["SkylakeX": [100.0, 200.0], "Haswell": [150.0, 90.0]]
    let reports = BLASCoreDecision.probeInRounds(["SkylakeX", "Cooperlake", "Haswell"], rounds: 2) {
      core in
      calls.append(core)
      guard let next = speeds[core]?.first else { return self.bad(core) }
      speeds[core]?.removeFirst()
      return self.ok(core, next)
    }
    #expect(calls == ["SkylakeX", "Cooperlake", "Haswell", "SkylakeX", "Haswell"])
    #expect(reports == [ok("SkylakeX", 200), bad("Cooperlake"), ok("Haswell", 150)])
  }

  @Test func reportsReadTheChildsEnd() {
    let line = BLASProbeResult(core: "SkylakeX", status: .ok, gflops: 212.4, error: 1e-7).line
    #expect(
      BLASProbeReport(core: "SkylakeX", termination: .exited(0), output: "noise\n\(line)\n")
        == ok("SkylakeX", 212.4)
    )
    let wrong = BLASProbeResult(core: "SkylakeX", status: .wrong, gflops: 1, error: 0.5).line
    let crashed = BLASProbeReport(core: "SkylakeX", termination: .signaled(4), output: "")
    let cases: [(BLASProbeReport, String)] = [
      (BLASProbeReport(core: "SkylakeX", termination: .exited(1), output: wrong), "wrong results"),
      (crashed, "killed by signal 4"),
      (BLASProbeReport(core: "SkylakeX", termination: .timedOut, output: line), "timed out"),
      (
        BLASProbeReport(core: "SkylakeX", termination: .exited(0), output: "Fatal error"),
        "no result: Fatal error"
      ),
      (
        BLASProbeReport(
          core: "SapphireRapids",
          termination: .exited(1),
          output: BLASProbeResult(core: "Cooperlake", status: .otherCore).line
        ), "OpenBLAS ran Cooperlake instead"
      ),
    ]
    for (report, words) in cases {
      guard case .unusable(let why) = report.outcome else {
        Issue.record("usable: \(report)")
        continue
      }
      #expect(why.contains(words), "\(why)")
    }
    #expect(crashed.summary.hasPrefix("SkylakeX unusable (killed by signal 4"))
  }

  @Test func resultLinesRoundTripAndGarbageIsRejected() {
    let result = BLASProbeResult(core: "Haswell", status: .ok, gflops: 97.6, error: 1.7e-7)
    #expect(BLASProbeResult(output: result.line) == result)
    #expect(
      BLASProbeResult(output: "rlhfd-blas-probe core=Haswell status=maybe gflops=1 error=0") == nil
    )
    #expect(
      BLASProbeResult(output: "rlhfd-blas-probe core=Haswell status=ok gflops=nan error=0") == nil
    )
    #expect(BLASProbeResult(output: "") == nil)
  }

  @Test func theProbeFindsAWrongResult() {
    // In this process: whatever core OpenBLAS runs here; tiny timed product.
    let good = BLASProbe.run(expected: nil, timed: (8, 8, 8), fault: nil)
    #expect(good.status == .ok && good.error < 1e-5 && good.gflops > 0, "\(good)")
    let wrong = BLASProbe.run(expected: nil, timed: (8, 8, 8), fault: .wrong)
    #expect(wrong.status == .wrong, "\(wrong)")
    let other = BLASProbe.run(expected: "NoSuchCore", timed: (8, 8, 8), fault: nil)
    #expect(other.status == .otherCore && other.core == BLASLibrary.coreName)
    #expect(BLASProbe.fault(for: "skylakex", in: "Haswell:wrong,SkylakeX:crash") == .crash)
    #expect(BLASProbe.fault(for: "Zen", in: "Haswell:wrong") == nil)
  }
}
