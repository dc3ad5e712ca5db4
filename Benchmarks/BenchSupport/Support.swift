// Shared by the benchmark executables (EngineBench, TrainingBench): a monotonic clock, medians,
// /proc readings, a seeded generator, scratch buffers and number formats.
import Foundation
import Glibc

public enum Clock {
  /// Seconds on the monotonic clock.
  public static func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }

  /// Seconds of CPU time used by every thread of this process.
  public static func processCPU() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }
}

public func median(_ values: [Double]) -> Double {
  precondition(!values.isEmpty)
  let s = values.sorted()
  return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

public enum ProcStatus {
  /// A `/proc/self/status` field in kB (VmHWM, VmRSS, RssFile, RssAnon), as bytes.
  public static func bytes(_ field: String) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
      return -1
    }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
      let parts = line.split(separator: " ", omittingEmptySubsequences: true)
      if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
    }
    return -1
  }

  public static var peakRSS: Int { bytes("VmHWM") }

  /// Resets VmHWM to the current RSS (`echo 5 > /proc/self/clear_refs`, Linux ≥ 4.0), so the
  /// limit probes' buffers do not count as the model's peak.
  public static func resetPeak() {
    if let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") {
      h.write(Data("5".utf8))
      try? h.close()
    }
  }
  public static var rss: Int { bytes("VmRSS") }
  public static var rssFile: Int { bytes("RssFile") }
  public static var rssAnon: Int { bytes("RssAnon") }

  /// `/proc/pressure/cpu` "some avg10" (% of the last 10 s some task waited for a CPU): other
  /// work on this 2-core machine shows here. Read at start it is the others' load; later readings
  /// include our own threads too (OpenBLAS's and the engine pool's take turns on 2 cores).
  public static var cpuPressure: Double {
    guard let text = try? String(contentsOfFile: "/proc/pressure/cpu", encoding: .utf8),
      let field = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        .first(where: { $0.hasPrefix("avg10=") })
    else { return -1 }
    return Double(field.dropFirst("avg10=".count)) ?? -1
  }

  public static var loadAverage: String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?")
      .split(separator: " ").prefix(3).joined(separator: " ")
  }
}

/// Deterministic 64-bit generator (splitmix64).
public struct SplitMix {
  public var state: UInt64
  public init(state: UInt64) { self.state = state }
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  /// Uniform in [-a, a).
  public mutating func uniform(_ a: Float) -> Float {
    Float(next() >> 40) * (1 / Float(1 << 24)) * 2 * a - a
  }
}

public func gb(_ bytes: Int) -> String { String(format: "%.2f GB", Double(bytes) / 1e9) }
public func fmt(_ x: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", x) }

/// Owned zeroed fp32 scratch.
public final class Scratch {
  private var buffers: [UnsafeMutablePointer<Float>] = []
  public init() {}
  public func make(_ count: Int) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
    p.initialize(repeating: 0, count: max(1, count))
    buffers.append(p)
    return p
  }
  deinit { for p in buffers { p.deallocate() } }
}

/// Unbuffered line output (stdout is block-buffered into a pipe; progress should show as it goes).
func print(_ line: String = "") {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
