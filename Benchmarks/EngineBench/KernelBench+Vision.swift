// `EngineBench --kernels`: the vision tower's elementwise kernels on its shapes (T = 577 tokens,
// MLP 4096): QuickGELU through `exp8` against its libm reference.
import BenchSupport
import Engine
import Foundation

extension KernelBench {
  static func quickGELU(runs: Int) {
    let count = 577 * 4096
    let s = Scratch()
    let x = random(s, count, 4, seed: 6)
    let out = s.make(count)
    let fast = time(runs) { QuickGELU.forward(out: out, in: x, count: count, pool: pool) }
    let naive = time(runs) { QuickGELU.forwardNaive(out: out, in: x, count: count) }
    for (what, t) in [
      ("quick_gelu 577x4096 exp8", fast), ("quick_gelu 577x4096 expf (one thread)", naive),
    ] {
      print(
        "KERNEL  \(what.padding(toLength: 44, withPad: " ", startingAt: 0)) best \(fmt(t.0 * 1e3, 2)) ms, median \(fmt(t.1 * 1e3, 2)) ms"
      )
    }
  }
}
