/// What a probe child found, as the one line it prints:
/// `rlhfd-blas-probe core=SkylakeX status=ok gflops=212.3 error=3.1e-08`.
public struct BLASProbeResult: Sendable, Equatable {
  public enum Status: String, Sendable {
    /// Correct results; `gflops` is the speed.
    case ok
    /// Results off by more than the tolerance.
    case wrong
    /// OpenBLAS runs another kernel set than the one asked for (a name it does not know).
    case otherCore = "other-core"
  }

  static let prefix = "rlhfd-blas-probe"

  /// The kernel set OpenBLAS ran.
  public var core: String
  public var status: Status
  /// sgemm speed, GFLOP/s (0 unless measured).
  public var gflops: Double
  /// Largest error relative to Σ|a·b|.
  public var error: Double

  public init(core: String, status: Status, gflops: Double = 0, error: Double = 0) {
    self.core = core
    self.status = status
    self.gflops = gflops
    self.error = error
  }

  public var line: String {
    "\(Self.prefix) core=\(self.core) status=\(self.status.rawValue) gflops=\(self.gflops) error=\(self.error)"
  }

  /// Parses the probe's line from its output (the last line that starts with the prefix).
  public init?(output: String) {
    guard
      let line = output.split(separator: "\n").last(where: { $0.hasPrefix(Self.prefix + " ") })
    else { return nil }
    var fields: [String: String] = [:]
    for word in line.split(separator: " ").dropFirst() {
      let pair = word.split(separator: "=", maxSplits: 1).map(String.init)
      if pair.count == 2 { fields[pair[0]] = pair[1] }
    }
    guard let core = fields["core"], let status = fields["status"].flatMap(Status.init),
      let gflops = fields["gflops"].flatMap(Double.init),
      let error = fields["error"].flatMap(Double.init),
      gflops.isFinite, gflops >= 0
    else { return nil }
    self.init(core: core, status: status, gflops: gflops, error: error)
  }
}
