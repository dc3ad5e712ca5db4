// Small helpers for EngineBench: its options and line output (the clock, medians, /proc
// readings and number formats are shared: Benchmarks/BenchSupport).
import Engine
import Foundation
import Glibc

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

/// Unbuffered line output (stdout is block-buffered into a pipe; progress should show as it goes).
func print(_ line: String = "") {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
