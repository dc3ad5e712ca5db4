// Small helpers for EngineBench: a monotonic clock, medians, /proc readings, options.
import Engine
import Foundation
import Glibc

enum Clock {
  /// Seconds on the monotonic clock.
  static func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }

  /// Seconds of CPU time used by every thread of this process.
  static func processCPU() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }
}

func median(_ values: [Double]) -> Double {
  precondition(!values.isEmpty)
  let s = values.sorted()
  return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

enum ProcStatus {
  /// A `/proc/self/status` field in kB (VmHWM, VmRSS, RssFile, RssAnon), as bytes.
  static func bytes(_ field: String) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
      return -1
    }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
      let parts = line.split(separator: " ", omittingEmptySubsequences: true)
      if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
    }
    return -1
  }

  static var peakRSS: Int { bytes("VmHWM") }

  /// Resets VmHWM to the current RSS (`echo 5 > /proc/self/clear_refs`, Linux ≥ 4.0), so the
  /// limit probes' buffers do not count as the model's peak.
  static func resetPeak() {
    if let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") {
      h.write(Data("5".utf8))
      try? h.close()
    }
  }
  static var rss: Int { bytes("VmRSS") }
  static var rssFile: Int { bytes("RssFile") }
  static var rssAnon: Int { bytes("RssAnon") }

  /// `/proc/pressure/cpu` "some avg10" (% of the last 10 s some task waited for a CPU): other
  /// work on this 2-core machine shows here. Read at start it is the others' load; later readings
  /// include our own threads too (OpenBLAS's and the engine pool's take turns on 2 cores).
  static var cpuPressure: Double {
    guard let text = try? String(contentsOfFile: "/proc/pressure/cpu", encoding: .utf8),
      let field = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        .first(where: { $0.hasPrefix("avg10=") })
    else { return -1 }
    return Double(field.dropFirst("avg10=".count)) ?? -1
  }

  static var loadAverage: String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?")
      .split(separator: " ").prefix(3).joined(separator: " ")
  }
}

struct Options {
  var cacheDirectory = ".build-bench/tinyllama-bf16"
  var runs = 3
  var prefillTokens = 512
  var promptTokens = 16
  var decodeTokens = 128
  var peerBinary: String?
  var ggufDirectory: String?
  /// The image llama-mtmd-cli encodes (any PNG/JPEG: it is resized to the ViT's input).
  var peerImage: String?
  var jsonPath: String?
  var skipVision = false
  var skipBreakdown = false
  var kernelsOnly = false
  var precisions: [MatmulPrecision] = [.fp32, .bf16]
  var rounds = 3
  var modelDirectory: String?
  var reportPath: String?
  var machineState = ""
  var smoke = false
  var limitsOnly = false
  var blasCore = "auto"
  var stateDirectory: String?
  var loraOnly = false
  var imageOnly = false
  var loraSteps = 8
  var loraDType = WeightView.DType.bf16
  var trainingOnly = false
  var trainingTokens = 512
  var trainingTiny: String?
  var trainingRecompute = false
  var trainingTransposed = false

  static func parse(_ arguments: [String]) -> Options {
    var o = Options()
    var i = 1
    func value() -> String {
      i += 1
      guard i < arguments.count else {
        fatalError("option \(arguments[i - 1]) needs a value")
      }
      return arguments[i]
    }
    while i < arguments.count {
      switch arguments[i] {
      case "--cache": o.cacheDirectory = value()
      case "--runs": o.runs = Int(value()) ?? 3
      case "--prefill": o.prefillTokens = Int(value()) ?? 512
      case "--prompt": o.promptTokens = Int(value()) ?? 16
      case "--decode": o.decodeTokens = Int(value()) ?? 128
      case "--peer": o.peerBinary = value()
      case "--gguf-dir": o.ggufDirectory = value()
      case "--peer-image": o.peerImage = value()
      case "--json": o.jsonPath = value()
      case "--no-vision": o.skipVision = true
      case "--no-breakdown": o.skipBreakdown = true
      case "--kernels": o.kernelsOnly = true
      case "--blas-core": o.blasCore = value()
      case "--state-directory": o.stateDirectory = value()
      case "--precision", "--precisions":
        o.precisions = value().split(separator: ",").map { name in
          guard let p = MatmulPrecision(rawValue: String(name)) else {
            fatalError("--precisions: fp32 and/or bf16, not \(name)")
          }
          return p
        }
      case "--rounds": o.rounds = max(1, Int(value()) ?? 3)
      case "--model": o.modelDirectory = value()
      case "--report": o.reportPath = value()
      case "--machine-state": o.machineState = value()
      case "--limits-only": o.limitsOnly = true
      case "--lora": o.loraOnly = true
      case "--training": o.trainingOnly = true
      case "--training-tokens": o.trainingTokens = max(2, Int(value()) ?? 512)
      case "--training-tiny": o.trainingTiny = value()
      case "--training-recompute": o.trainingRecompute = true
      case "--training-transposed": o.trainingTransposed = true
      case "--image-only": o.imageOnly = true
      case "--lora-steps": o.loraSteps = max(1, Int(value()) ?? 8)
      case "--lora-dtype": o.loraDType = value() == "f32" ? .f32 : .bf16
      case "--smoke":
        // Seconds, for scripts/test.sh: does the benchmark still run? (figures meaningless)
        o.smoke = true
        o.rounds = 2
        o.prefillTokens = 16
        o.promptTokens = 4
        o.decodeTokens = 4
        o.skipBreakdown = true
      case "-h", "--help":
        print(
          """
          EngineBench [--cache DIR | --model DIR] [--rounds N] [--prefill T] [--prompt T] [--decode N]
                      [--peer PATH/llama-bench --gguf-dir DIR] [--json PATH] [--report PATH]
                      [--no-vision] [--no-breakdown] [--precisions fp32,bf16] [--machine-state TEXT]
                      [--blas-core auto|keep|NAME] [--state-directory DIR] [--smoke]
            --model DIR uses an existing llava-hf checkpoint (not written); --smoke: 2 rounds of
            tiny sizes, no breakdown (does it run?).
          EngineBench --kernels [--runs N]   (kernel micro-benchmarks only)
          EngineBench --image-only [model and peer options] [--rounds N] [--no-breakdown]
                      (the image encode alone, rlhfd and the peer interleaved)
          EngineBench --limits-only [--smoke] [--json PATH]   (sgemm ceiling and read bandwidth)
          EngineBench --lora [--cache DIR | --model DIR] [--precisions P] [--rounds N]
                      [--lora-steps N] [--lora-dtype bf16|f32] [--json PATH]
                      (32 rows over 4 LoRA versions vs base)
          """
        )
        exit(0)
      default: fatalError("unknown option \(arguments[i])")
      }
      i += 1
    }
    return o
  }
}

/// Deterministic 64-bit generator (splitmix64).
struct SplitMix {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  /// Uniform in [-a, a).
  mutating func uniform(_ a: Float) -> Float {
    Float(next() >> 40) * (1 / Float(1 << 24)) * 2 * a - a
  }
}

func gb(_ bytes: Int) -> String { String(format: "%.2f GB", Double(bytes) / 1e9) }
func fmt(_ x: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", x) }

/// Unbuffered line output (stdout is block-buffered into a pipe; progress should show as it goes).
func print(_ line: String = "") {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
