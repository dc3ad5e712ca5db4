import CKernels
import Glibc
import Synchronization

// Unmasked attention (the CLIP vision tower) under `precision: bf16`: both products of each
// head (Q·Kᵀ and P·V) on AMX tiles with bf16 operands and fp32 sums, the softmax in fp32
// (attention_bf16_amx.c). Heads are handed out one at a time to the pool's threads from a
// shared counter (each thread packs its head's K and V once and keeps all its tiles in its own
// core), instead of one head after another on OpenBLAS's threads. `precision: fp32`, CPUs
// without AMX and callers that want the probabilities keep the fp32 sgemm path.
extension BidirectionalAttention {
  /// Which kernel computes unmasked attention.
  public enum Path: String, Sendable {
    /// bf16 products on AMX tiles (`forwardAMX`).
    case amx
    /// fp32: two `cblas_sgemm` per tile of queries, one head after another (`attendTiled`);
    /// one query row at a time below `attentionMinimumTiledRows`.
    case sgemm
  }

  /// The path `precision: bf16` takes in this process: AMX when the bf16 products run there
  /// (`BF16Products.path == .amx`, so `RLHFD_NO_AMX=1` turns it off) unless
  /// `RLHFD_NO_AMX_ATTENTION=1` (for A/B measurements); else sgemm.
  public static let bf16Path: Path =
    BF16Products.path == .amx
      && getenv("RLHFD_NO_AMX_ATTENTION").map { String(cString: $0) } != "1" ? .amx : .sgemm

  /// The path `forward(…, precision:)` takes: fp32 always stays on sgemm (exact fp32 products;
  /// docs/precision.md).
  public static func path(for precision: MatmulPrecision) -> Path {
    precision == .bf16 ? bf16Path : .sgemm
  }

  /// `forward`, on the path `precision` selects (`path(for:)`); the AMX path computes no
  /// probabilities, so a caller passing `att` gets the fp32 path.
  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (T, NH, HS)
    att: UnsafeMutablePointer<Float>?,  // (NH, T, T) probabilities
    q: UnsafePointer<Float>,  // (T, NH, HS)
    k: UnsafePointer<Float>,  // (T, NH, HS)
    v: UnsafePointer<Float>,  // (T, NH, HS)
    T: Int,
    NH: Int,
    HS: Int,
    precision: MatmulPrecision,
    pool: ThreadPool = .current
  ) {
    if att == nil && path(for: precision) == .amx {
      forwardAMX(out: out, q: q, k: k, v: v, T: T, NH: NH, HS: HS, pool: pool)
    } else {
      forward(out: out, att: att, q: q, k: k, v: v, T: T, NH: NH, HS: HS, pool: pool)
    }
  }

  /// bf16 operands, fp32 sums and softmax, on AMX tiles (the CPU must have
  /// `BF16Products.amxAvailable`). Matches `forwardNaiveBF16` up to fp32 summation order.
  public static func forwardAMX(
    out: UnsafeMutablePointer<Float>,  // (T, NH, HS)
    q: UnsafePointer<Float>,  // (T, NH, HS)
    k: UnsafePointer<Float>,  // (T, NH, HS)
    v: UnsafePointer<Float>,  // (T, NH, HS)
    T: Int,
    NH: Int,
    HS: Int,
    pool: ThreadPool = .current
  ) {
    precondition(BF16Products.amxAvailable, "AMX attention on a CPU without AMX")
    guard T > 0, NH > 0, HS > 0 else { return }
    // One head at a time from a shared counter: a descheduled vCPU's heads go to the other.
    let next = Atomic<Int>(0)
    pool.parallelFor(min(pool.threadCount, NH)) { _ in
      while true {
        let h = next.add(1, ordering: .relaxed).oldValue
        if h >= NH { break }
        ckernels_attention_bf16_amx(out, q, k, v, T, NH, HS, h, h + 1)
      }
    }
  }

  /// Reference for the bf16 path: q, k, v rounded by `HalfPrecision.bf16(from:)`, scores,
  /// softmax and sums in Double, the exponentials rounded to bf16 before the weighted sum and
  /// the sum divided by their unrounded total (as the kernel does). One thread.
  public static func forwardNaiveBF16(
    out: UnsafeMutablePointer<Float>,  // (T, NH, HS)
    q: UnsafePointer<Float>,  // (T, NH, HS)
    k: UnsafePointer<Float>,  // (T, NH, HS)
    v: UnsafePointer<Float>,  // (T, NH, HS)
    T: Int,
    NH: Int,
    HS: Int
  ) {
    func bf16(_ x: Float) -> Double {
      Double(HalfPrecision.float(fromBF16: HalfPrecision.bf16(from: x)))
    }
    let scale = Double(1 / Float(HS).squareRoot())
    let row = NH * HS
    var e = [Double](repeating: 0, count: T)
    for h in 0..<NH {
      for t in 0..<T {
        for s in 0..<T {
          var score: Double = 0
          for i in 0..<HS { score += bf16(q[t * row + h * HS + i]) * bf16(k[s * row + h * HS + i]) }
          e[s] = scale * score
        }
        let maximum = e.max() ?? 0
        var sum: Double = 0
        for s in 0..<T {
          e[s] = exp(e[s] - maximum)
          sum += e[s]
        }
        for i in 0..<HS {
          var value: Double = 0
          for s in 0..<T { value += bf16(Float(e[s])) * bf16(v[s * row + h * HS + i]) }
          out[t * row + h * HS + i] = Float(value / sum)
        }
      }
    }
  }
}
