import CKernels
import Synchronization

/// `out(M, N) = bf16(in)(M, K) · W(N, K)^T (+ bias)` for bf16 weights, with the activations
/// rounded to bf16 (nearest even) and AVX512-BF16 dot products: two bf16 multiply-adds per fp32
/// lane per instruction, fp32 accumulation. This is `precision: bf16`; what PyTorch does for a
/// bf16 model, and llama.cpp for a BF16 GGUF. It is opt-in: the default fp32 products are
/// exact for the stored weights and match the transformers fp32 reference to ~1e-5, while these
/// differ by bf16's rounding of each activation (relative 2^-9), ~1e-2 on logits.
///
/// The weights are repacked once at load (`pack`) into 32-column panels, so the kernel
/// broadcasts activation pairs against whole panel rows and needs no horizontal sums (see
/// bf16_products.c). Each output is summed in the same order for any M, so a row's result does
/// not depend on what else is in the batch. On Zen 5 the products run at about twice the fp32
/// kernels' rate, for prefill (no fp32 conversion pass) and batched decode alike.
public enum BF16Products {
  /// Whether this CPU has the instructions (AVX512-BF16; `RLHFD_NO_AVX512=1` turns it off).
  /// Without them `precision: bf16` is refused at start-up rather than silently emulated.
  public static let isSupported = ckernels_has_avx512_bf16() != 0

  /// Bytes of the panel layout of an `(N, K)` weight (zero-padded to 32 columns, even K).
  public static func panelByteCount(rows N: Int, columns K: Int) -> Int {
    ckernels_bf16_panel_elements(N, K) * 2
  }

  /// Writes `weight` (bf16, `(N, K)`) into `panels` (`panelByteCount` bytes, 64-byte aligned)
  /// and returns the view with the panels attached. Any CPU.
  public static func pack(
    _ weight: WeightView,
    into panels: UnsafeMutableRawPointer,
    pool: ThreadPool = .shared
  ) -> WeightView {
    precondition(weight.dtype == .bf16, "bf16 panels of a \(weight.dtype) weight")
    let (N, K) = (weight.rows, weight.columns)
    let out = panels.assumingMemoryBound(to: UInt16.self)
    let w = weight.base.assumingMemoryBound(to: UInt16.self)
    pool.parallelFor((N + 31) / 32) { range in
      ckernels_bf16_pack_panels(out, w, N, K, range.lowerBound, range.upperBound)
    }
    return weight.withBF16Panels(UnsafeRawPointer(panels))
  }

  /// `out = bf16(in) · W^T + bias` (or `out += …` when `accumulate`); `weight` must carry
  /// panels and the CPU must have `isSupported`.
  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (M, N)
    in input: UnsafePointer<Float>,  // (M, K)
    weight: WeightView,  // (N, K) with bf16Panels
    bias: UnsafePointer<Float>?,  // (N)
    M: Int,
    N: Int,
    K: Int,
    accumulate: Bool = false,
    pool: ThreadPool = .shared
  ) {
    precondition(isSupported, "bf16 products need an AVX512-BF16 CPU")
    guard let panels = weight.bf16Panels else { preconditionFailure("weight has no bf16 panels") }
    precondition(
      weight.rows == N && weight.columns == K,
      "weight \(weight.shape) is not (\(N), \(K))"
    )
    guard M > 0, N > 0 else { return }
    let x = UnsafeMutablePointer<UInt16>.allocate(capacity: max(1, M * K))
    defer { x.deallocate() }
    pool.parallelFor(M * K, minimumChunk: 1 << 16) { range in
      ckernels_bf16_round(x + range.lowerBound, input + range.lowerBound, range.count)
    }
    let w = panels.assumingMemoryBound(to: UInt16.self)
    let flag: Int32 = accumulate ? 1 : 0
    let count = (N + 31) / 32
    func product(_ panels: Range<Int>) {
      ckernels_bf16_panels_product(
        out,
        x,
        w,
        bias,
        M,
        N,
        K,
        panels.lowerBound,
        panels.upperBound,
        flag
      )
    }
    // A panel is 32 × K × M multiply-adds; below ~64 Ki of them in all, a fork is not worth it.
    guard count * 32 * K * M >= 1 << 16, count > 1 else { return product(0..<count) }
    // Panels handed out in runs from a shared counter rather than in halves: on a shared host
    // one vCPU can be descheduled mid-call, and the other then takes over the rest of its share
    // instead of waiting for it. Each column is still computed by one thread in one order.
    let run = max(1, min(8, count / (4 * pool.threadCount)))
    let next = Atomic<Int>(0)
    pool.parallelFor(pool.threadCount) { _ in
      while true {
        let first = next.add(run, ordering: .relaxed).oldValue
        if first >= count { break }
        product(first..<min(count, first + run))
      }
    }
  }

  /// Reference: each activation rounded by `HalfPrecision.bf16(from:)`, products of the stored
  /// (unpacked) weights summed in Double, one thread. The kernel differs by its fp32 sums.
  public static func forwardNaive(
    out: UnsafeMutablePointer<Float>,  // (M, N)
    in input: UnsafePointer<Float>,  // (M, K)
    weight: WeightView,  // (N, K), bf16
    bias: UnsafePointer<Float>?,  // (N)
    M: Int,
    N: Int,
    K: Int,
    accumulate: Bool = false
  ) {
    var rounded = [Float](repeating: 0, count: M * K)
    for i in 0..<(M * K) {
      rounded[i] = HalfPrecision.float(fromBF16: HalfPrecision.bf16(from: input[i]))
    }
    GEMV.forwardNaive(
      out: out,
      in: rounded,
      weight: weight,
      bias: bias,
      M: M,
      N: N,
      K: K,
      accumulate: accumulate
    )
  }
}
