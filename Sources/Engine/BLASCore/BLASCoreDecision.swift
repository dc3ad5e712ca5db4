/// How the probe of one kernel set went, as the parent saw it.
public struct BLASProbeReport: Sendable, Equatable {
  public enum Outcome: Sendable, Equatable {
    /// Correct results at this speed (GFLOP/s).
    case correct(gflops: Double)
    /// Anything else: wrong results, another kernel set, a crash, a timeout, no result line.
    case unusable(String)
  }

  public var core: String
  public var outcome: Outcome

  public init(core: String, outcome: Outcome) {
    self.core = core
    self.outcome = outcome
  }

  /// "SkylakeX 212 GFLOP/s" or "SkylakeX unusable (killed by signal 4 (Illegal instruction))".
  public var summary: String {
    switch self.outcome {
    case .correct(let gflops): "\(self.core) \(Int(gflops.rounded())) GFLOP/s"
    case .unusable(let why): "\(self.core) unusable (\(why))"
    }
  }

  /// The report for a child's termination and output.
  public init(core: String, termination: ChildProcess.Termination, output: String) {
    self.core = core
    let result = BLASProbeResult(output: output)
    switch (termination, result) {
    case (.exited(0), .some(let result)) where result.status == .ok:
      self.outcome = .correct(gflops: result.gflops)
    case (.exited, .some(let result)) where result.status == .wrong:
      self.outcome = .unusable("wrong results, error \(result.error) of the magnitude")
    case (.exited, .some(let result)) where result.status == .otherCore:
      self.outcome = .unusable("OpenBLAS ran \(result.core) instead")
    case (.exited, _):
      let last = output.split(separator: "\n").last.map { ": \($0.prefix(200))" } ?? ""
      self.outcome = .unusable("\(termination), no result\(last)")
    default:
      self.outcome = .unusable("\(termination)")
    }
  }
}

/// The choice among probed kernel sets: never one that was unusable; the fastest correct one,
/// except that a set earlier in the order of preference wins when it is within `noise` of the
/// fastest (timings on a shared machine wander by a few percent, and a newer set also brings
/// kernels the timed sgemm does not exercise, e.g. Cooperlake's bf16 ones).
public enum BLASCoreDecision {
  /// Relative speed difference below which two timings count as equal.
  public static let noise = 0.05

  /// Probes every core of `cores` (in order), then the usable ones again, `rounds` times in
  /// all, interleaved so that a burst of load elsewhere does not hit one core's timings only.
  /// Keeps each core's best speed; a core unusable in any round is unusable.
  public static func probeInRounds(
    _ cores: [String],
    rounds: Int,
    _ probe: (String) -> BLASProbeReport
  ) -> [BLASProbeReport] {
    var reports = cores.map(probe)
    for _ in 1..<max(rounds, 1) {
      reports = reports.map { report in
        guard case .correct(let before) = report.outcome else { return report }
        let again = probe(report.core)
        guard case .correct(let now) = again.outcome else { return again }
        return BLASProbeReport(core: report.core, outcome: .correct(gflops: max(before, now)))
      }
    }
    return reports
  }

  /// The chosen core among `reports` (in order of preference), or nil when none is usable.
  public static func choose(_ reports: [BLASProbeReport]) -> String? {
    let speeds = reports.compactMap { report -> (String, Double)? in
      guard case .correct(let gflops) = report.outcome else { return nil }
      return (report.core, gflops)
    }
    guard let fastest = speeds.map(\.1).max() else { return nil }
    return speeds.first { $0.1 >= fastest * (1 - Self.noise) }?.0
  }
}
