// The machine's limits at the start and at the end of a run, and the one rule for a run whose
// host changed under it: UNRELIABLE when a limit moved by more than 20 % between the readings.
import Engine
import Foundation

public struct LimitReading: Sendable {
  public var sgemm: Double  // GFLOP/s, fp32 sgemm M=512, 2048→5632
  public var bandwidth: Double  // GB/s, read
  public init(sgemm: Double, bandwidth: Double) {
    self.sgemm = sgemm
    self.bandwidth = bandwidth
  }
  public var json: [String: Any] { ["sgemm_gflops_512x5632x2048": sgemm, "read_gb_s": bandwidth] }
}

extension Limits {
  /// The limits now, printed as a `LIMITS` line; `small`: tiny problems (a smoke run, whose
  /// figures are then meaningless).
  public static func measure(_ when: String, small: Bool) -> LimitReading {
    let r =
      small
      ? LimitReading(
        sgemm: sgemm(M: 64, N: 512, K: 512, runs: 2),
        bandwidth: readBandwidth(bytes: 16 << 20, passes: 2)
      )
      : LimitReading(sgemm: sgemm(M: 512, N: 5632, K: 2048), bandwidth: readBandwidth())
    print(
      "LIMITS  \(when): sgemm (OpenBLAS via Matmul.forward, fp32, M=512, 2048→5632, best of 5) \(fmt(r.sgemm, 1)) GFLOP/s; read bandwidth (\(ThreadPool.shared.threadCount) threads, best of 5) \(fmt(r.bandwidth, 1)) GB/s"
    )
    return r
  }
}

/// How far the limits moved between the start and the end of a run.
public struct LimitDrift: Sendable {
  public static let maxDrift = 0.20

  public var start: LimitReading
  public var end: LimitReading

  public init(start: LimitReading, end: LimitReading) {
    self.start = start
    self.end = end
  }

  public var drift: [(what: String, from: Double, to: Double, change: Double)] {
    [
      ("sgemm ceiling (GFLOP/s)", start.sgemm, end.sgemm, end.sgemm / start.sgemm - 1),
      (
        "read bandwidth (GB/s)", start.bandwidth, end.bandwidth, end.bandwidth / start.bandwidth - 1
      ),
    ]
  }

  /// Why the run is unreliable (empty: reliable).
  public var unreliable: [String] {
    drift.filter { abs($0.change) > Self.maxDrift }.map {
      "\($0.what) moved \(fmt(100 * $0.change, 0)) % during the run (\(fmt($0.from, 1)) → \(fmt($0.to, 1)); limit ±\(Int(Self.maxDrift * 100)) %)"
    }
  }

  /// "RELIABLE: …" or "UNRELIABLE: …", the report's first line.
  public var verdictLine: String {
    let bad = unreliable
    return bad.isEmpty
      ? "RELIABLE: the limits moved by at most \(Int(Self.maxDrift * 100)) % during the run"
      : "UNRELIABLE: " + bad.joined(separator: "; ")
  }

  /// "limits: sgemm … start …, end … (…%); read bandwidth …".
  public var limitsLine: String {
    "limits: "
      + drift.map {
        "\($0.what) start \(fmt($0.from, 1)), end \(fmt($0.to, 1)) (\(fmt(100 * $0.change, 0)) %)"
      }.joined(separator: "; ")
  }

  public var json: [String: Any] {
    [
      "reliable": unreliable.isEmpty, "unreliable_reasons": unreliable,
      "limits_start": start.json, "limits_end": end.json,
    ]
  }
}
