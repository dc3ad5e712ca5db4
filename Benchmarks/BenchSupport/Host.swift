// The host a run measured: the CPU (model name, family/model, the flags that choose the
// engine's kernels), the kernels chosen (`ComputeKernels.summary`: OpenBLAS core, GEMV, bf16
// products) and the machine state engine.sh recorded before the run (Benchmarks/quiet.sh).
import Engine
import Foundation

public struct BenchHost {
  public var modelName = "?"
  public var family = "?"
  public var model = "?"
  public var flags: [String: Bool] = [:]
  public var kernels = ""
  public var machineState = ""

  public static let kernelFlags = ["avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"]

  public static func current(machineState: String) -> BenchHost {
    var h = BenchHost()
    let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    var seen: Set<String> = []
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: ":", maxSplits: 1).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      guard parts.count == 2, !seen.contains(parts[0]) else { continue }
      seen.insert(parts[0])
      switch parts[0] {
      case "model name": h.modelName = parts[1]
      case "cpu family": h.family = parts[1]
      case "model": h.model = parts[1]
      case "flags":
        let all = Set(parts[1].split(separator: " ").map(String.init))
        for f in kernelFlags { h.flags[f] = all.contains(f) }
      default: break
      }
    }
    h.kernels = ComputeKernels.summary
    h.machineState = machineState
    return h
  }

  /// bf16 dot-product instructions (AVX512-BF16 or AMX): where the bf16 goal applies.
  public var hasBF16: Bool { flags["avx512_bf16"] == true || flags["amx_bf16"] == true }

  public var line: String {
    let on = BenchHost.kernelFlags.filter { flags[$0] == true }.joined(separator: " ")
    return
      "\(modelName) (family \(family), model \(model)), \(ProcessInfo.processInfo.activeProcessorCount) CPUs; flags: \(on)"
  }

  public var json: [String: Any] {
    [
      "cpu_model_name": modelName, "cpu_family": family, "cpu_model": model, "cpu_flags": flags,
      "cpus": ProcessInfo.processInfo.activeProcessorCount, "compute_kernels": kernels,
      "machine_state": machineState,
    ]
  }
}
