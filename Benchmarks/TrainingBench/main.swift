// TrainingBench (issue 13, "Benchmarks"): rlhfd's training steps against PyTorch CPU on the same
// shapes, in the same run, interleaved. `--ppo`: one whole PPO step per round, seconds per 1k
// response tokens; `--rm` (default): one reward-model optimizer step, seconds per 1k pairs. Both
// show forward, backward and optimizer separately (`TrainingStepTimes`) and the step's wall time,
// against the PyTorch peer (tools/reference/bench_torch_{ppo,rm}_step.py: fp32, the same LoRA,
// 2 threads) run as a child process between rlhfd's steps; medians of `--rounds` rounds; the
// machine's limits at start and end (UNRELIABLE when they moved > 20 %), the CPU named. Without
// torch it says so and prints rlhfd's figures only. Entry point: Benchmarks/training.sh.
import BenchSupport
import Foundation
import Glibc
import Training

Kernels.probeIfAsked()
signal(SIGPIPE, SIG_IGN)
let options = Options.parse(CommandLine.arguments)
// Before any thread of ours: the daemon's choice of OpenBLAS kernels (may re-execute).
_ = Kernels.choose(
  setting: options.blasCore,
  stateDirectory: options.stateDirectory,
  name: "TrainingBench"
)

/// A bench over ~Copyable state, as closures.
final class Box<Bench: ~Copyable> {
  var bench: Bench
  init(_ bench: consuming Bench) { self.bench = bench }
}

do {
  let host = BenchHost.current(machineState: options.machineState)
  print("TrainingBench \(options.mode.rawValue): CPU \(host.line)")
  print("TrainingBench: kernels \(host.kernels)")
  print(
    "TrainingBench: load average \(ProcStatus.loadAverage); \(options.rounds) rounds\(options.smoke ? " (smoke: figures meaningless)" : "")"
  )
  let start = Limits.measure("at start", small: options.smoke)
  ProcStatus.resetPeak()  // the probe's buffers are not the model's

  let t0 = Clock.now()
  let describe: String
  let peerArguments: [String]
  let units: Double
  let once: () throws -> (TrainingStepTimes, Double)
  switch options.mode {
  case .ppo:
    let box = Box(try PPOBench(options))
    (describe, peerArguments, units) = (
      box.bench.describe, box.bench.peerArguments, box.bench.units
    )
    once = { try box.bench.once() }
  case .rm:
    let box = Box(try RMBench(options))
    (describe, peerArguments, units) = (
      box.bench.describe, box.bench.peerArguments, box.bench.units
    )
    once = { try box.bench.once() }
  }
  print("loaded in \(fmt(Clock.now() - t0, 1)) s: \(describe)")

  let script = "tools/reference/bench_torch_\(options.mode.rawValue)_step.py"
  var (peer, peerNote): (TorchPeer?, String) =
    options.noPeer
    ? (nil, "peer not run: --no-peer")
    : TorchPeer.start(python: options.python, script: script, arguments: peerArguments)
  print(peerNote)
  var rounds = Rounds(peerNote: peerNote)
  try rounds.run(rounds: options.rounds, units: units, once: once, peer: &peer)
  peer?.stop()
  let peakRSS = ProcStatus.peakRSS  // before the end probe's buffers
  let end = Limits.measure("at end", small: options.smoke)

  let limits = LimitDrift(start: start, end: end)
  let unit = options.mode == .ppo ? "response tokens" : "pairs"
  var header: [String] = []
  if options.smoke {
    header.append("SMOKE run (tiny sizes, tiny limit probes): the figures mean nothing")
  }
  header += [
    limits.verdictLine, "CPU: \(host.line)", "kernels: \(host.kernels)",
    "machine before the run: \(host.machineState.isEmpty ? "(not recorded)" : host.machineState)",
    limits.limitsLine, describe,
    "rlhfd's peak RSS (VmHWM, load and rounds): \(gb(peakRSS))",
  ]
  let text = rounds.text(unit: unit, header: header)
  print("\n" + text)
  if let path = options.reportPath {
    try (text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
  }
  if let path = options.jsonPath {
    var json = rounds.json
    json["mode"] = options.mode.rawValue
    json["unit"] = unit
    json["describe"] = describe
    json["host"] = host.json
    json["limits"] = limits.json
    json["rounds"] = options.rounds
    let data = try JSONSerialization.data(
      withJSONObject: json,
      options: [.prettyPrinted, .sortedKeys]
    )
    try data.write(to: URL(fileURLWithPath: path))
    print("wrote \(path)")
  }
} catch {
  print("TrainingBench failed: \(error)")
  exit(1)
}

/// Unbuffered line output (stdout is block-buffered into a pipe; progress should show as it goes).
func print(_ line: String = "") {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
