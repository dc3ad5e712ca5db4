// The figures of interleaved rounds (ABAB…: rlhfd, then the peer on the same work, for several
// rounds), every figure summarised the same way for both sides: the median of the rounds, with
// min and max. A host that slows down for a minute then costs both sides alike.
import Foundation

public struct Stat {
  public var samples: [Double]
  public init(samples: [Double]) { self.samples = samples }
  public var median: Double { samples.isEmpty ? .nan : BenchSupport.median(samples) }
  public var min: Double { samples.min() ?? .nan }
  public var max: Double { samples.max() ?? .nan }

  /// "12.3 (min 11.0, max 13.1, n 3)"
  public func text(_ digits: Int = 2) -> String {
    "\(fmt(median, digits)) (min \(fmt(min, digits)), max \(fmt(max, digits)), n \(samples.count))"
  }

  public var json: [String: Any] {
    ["median": median, "min": min, "max": max, "samples": samples]
  }
}

/// Samples by key ("rlhfd_fp32_pp_tok_s", "peer_f16_tg_tok_s", …), in the order they were added.
public final class Samples {
  public init() {}

  public private(set) var keys: [String] = []
  private var values: [String: [Double]] = [:]

  public func add(_ key: String, _ value: Double) {
    if values[key] == nil { keys.append(key) }
    values[key, default: []].append(value)
    print("SAMPLE  \(key) \(fmt(value, 3))")
  }

  public func stat(_ key: String) -> Stat? { values[key].map { Stat(samples: $0) } }

  public var json: [String: Any] {
    Dictionary(uniqueKeysWithValues: keys.map { ($0, stat($0)!.json) })
  }
}
