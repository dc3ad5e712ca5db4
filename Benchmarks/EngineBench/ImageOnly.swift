// `EngineBench --image-only`: the image encode alone (vision tower + projector), rlhfd's
// precisions and llama-mtmd-cli interleaved for `--rounds` rounds, medians of wall seconds and,
// for rlhfd, of the process's CPU seconds (which a busy host inflates far less than wall time;
// both threads busy means CPU ≈ 2 × wall), then the vision replica's per-kernel breakdown of the
// last precision. For A/B checks of the vision kernels in minutes on a shared machine (e.g.
// with and without RLHFD_NO_AMX_ATTENTION=1); Benchmarks/engine.sh stays the reference run.
import BenchSupport
import Engine
import Foundation
import Glibc

enum ImageOnly {
  static func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }

  static func run(phases: [Phases], peer: ImagePeer?, rounds: Int, breakdown: Bool) throws {
    print("IMAGE   kernels: \(ComputeKernels.summary)")
    for ph in phases { _ = try ph.encode() }  // warm-up
    var wall: [String: [Double]] = [:]
    var cpu: [String: [Double]] = [:]
    for round in 1...rounds {
      print("IMAGE   round \(round)/\(rounds): load average \(ProcStatus.loadAverage)")
      for ph in phases {
        let c0 = cpuSeconds()
        let seconds = try ph.encode()
        let name = ph.precision.rawValue
        wall[name, default: []].append(seconds)
        cpu[name, default: []].append(cpuSeconds() - c0)
        print(
          "SAMPLE  rlhfd_\(name)_image_encode_s \(fmt(seconds, 3)) (cpu \(fmt(cpu[name]!.last!, 3)))"
        )
      }
      if let peer {
        let seconds = try peer.once()
        wall["peer_f16", default: []].append(seconds)
        print("SAMPLE  peer_f16_image_encode_s \(fmt(seconds, 3))")
      }
    }
    let peerMedian = wall["peer_f16"].map(median)
    for ph in phases {
      let name = ph.precision.rawValue
      let w = median(wall[name]!)
      let ratio = peerMedian.map { ", \(fmt($0 / w, 2))x the peer's \(fmt($0, 3)) s" } ?? ""
      print(
        "IMAGE   rlhfd \(name): median \(fmt(w, 3)) s wall, \(fmt(median(cpu[name]!), 3)) s cpu\(ratio)"
      )
    }
    if breakdown, let ph = phases.last {
      let vt = PhaseTimer()
      VisionReplica.forward(weights: ph.weights, pixels: ph.pixels, timer: vt)
      var json: [String: Any] = [:]
      Breakdowns.show(
        "image encode \(ph.precision)",
        vt,
        perUnit: 1,
        unit: "per image",
        into: &json
      )
    }
  }
}
