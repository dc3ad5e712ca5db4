// TrainingBench's options. One mode per run: `--ppo` (one whole PPO step, per 1k response
// tokens) or `--rm` (one reward-model optimizer step, per 1k pairs; the default).
import Engine
import Foundation

struct Options {
  enum Mode: String { case ppo, rm }
  var mode = Mode.rm
  /// The policy (PPO) or reward (RM) checkpoint; default the tiny fixtures.
  var directory: String?
  /// PPO's value model (the reward model's backbone): default the tiny reward fixture beside
  /// the tiny policy, else `directory` itself.
  var valueDirectory: String?
  var rounds = 3
  var rank: Int?
  var paper = false
  // PPO
  var rollouts = 8
  var stepBatch = 4
  var ppoMicro = 2
  var epochs = 2
  var query = 64
  var response = 32
  // RM
  var tokens = 256
  var rmResponse = 32
  var batch: Int?
  var micro: Int?
  // peer, output
  var python =
    ProcessInfo.processInfo.environment["RLHFD_TORCH_PYTHON"] ?? ".build-ref/venv/bin/python"
  var noPeer = false
  /// Keep transposed panel copies of the decoder's linears for the backward's input gradients
  /// (`DecoderTraining(transposedWeights:)`; AMX hosts with bf16 weights).
  var transposed = false
  /// The products' precision, as the daemon's `precision` (`bf16`: the weights' products round
  /// their activations to bf16, forward and, with `--transposed`, the backward's input gradients).
  var precision = MatmulPrecision.fp32
  var smoke = false
  var blasCore = "auto"
  var stateDirectory: String?
  var machineState = ""
  var jsonPath: String?
  var reportPath: String?

  static let usage = """
    TrainingBench --ppo|--rm [DIR] [--rounds N] [--rank r] [--paper] [--no-peer] [--transposed]
      [--precision fp32|bf16] [--smoke]
      --ppo: [--value DIR] [--rollouts B] [--step-batch S] [--micro M] [--epochs E] [--query Q] [--response R]
      --rm:  [--tokens T] [--response R] [--batch B] [--micro M]
      [--python PATH (RLHFD_TORCH_PYTHON, .build-ref/venv/bin/python)] [--blas-core auto|keep|NAME]
      [--state-directory DIR] [--machine-state TEXT] [--json PATH] [--report PATH]
    """

  static func parse(_ arguments: [String]) -> Options {
    var o = Options()
    var i = 1
    func value() -> String {
      i += 1
      guard i < arguments.count else { fail("\(arguments[i - 1]) needs a value") }
      return arguments[i]
    }
    func number() -> Int {
      let text = value()
      guard let n = Int(text), n > 0 else { fail("\(arguments[i - 1]) needs a positive number") }
      return n
    }
    while i < arguments.count {
      switch arguments[i] {
      case "--ppo": o.mode = .ppo
      case "--rm": o.mode = .rm
      case "--value": o.valueDirectory = value()
      case "--rounds": o.rounds = number()
      case "--rank": o.rank = number()
      case "--paper": o.paper = true
      case "--rollouts": o.rollouts = number()
      case "--step-batch": o.stepBatch = number()
      case "--epochs": o.epochs = number()
      case "--query": o.query = number()
      case "--response": (o.response, o.rmResponse) = { ($0, $0) }(number())
      case "--tokens": o.tokens = number()
      case "--batch": o.batch = number()
      case "--micro": (o.ppoMicro, o.micro) = { ($0, $0) }(number())
      case "--python": o.python = value()
      case "--no-peer": o.noPeer = true
      case "--transposed": o.transposed = true
      case "--precision":
        guard let p = MatmulPrecision(rawValue: value()) else { fail("--precision fp32|bf16") }
        o.precision = p
      case "--smoke": o.smoke = true
      case "--blas-core": o.blasCore = value()
      case "--state-directory": o.stateDirectory = value()
      case "--machine-state": o.machineState = value()
      case "--json": o.jsonPath = value()
      case "--report": o.reportPath = value()
      case "-h", "--help":
        print(usage)
        exit(0)
      case let a where a.hasPrefix("--"): fail("unknown option \(a)")
      case let a: o.directory = a
      }
      i += 1
    }
    return o
  }

  static func fail(_ message: String) -> Never {
    print("TrainingBench: \(message)\n\(usage)")
    exit(2)
  }

  static let tinyPolicy = "Tests/Fixtures/tiny-llava-policy"
  static let tinyReward = "Tests/Fixtures/tiny-llava-reward"

  var checkpoint: String { directory ?? (mode == .ppo ? Self.tinyPolicy : Self.tinyReward) }
  var valueCheckpoint: String {
    valueDirectory ?? (directory == nil ? Self.tinyReward : checkpoint)
  }
}
