import CKernels
import Synchronization

/// `out(M, N) = bf16(in)(M, K) · W(N, K)^T (+ bias)` for bf16 weights, with the activations
/// rounded to bf16 (nearest even) and bf16 dot products summed in fp32: AMX tiles
/// (`TDPBF16PS`) where the CPU has them and Linux grants the tile state, else AVX512-BF16
/// `vdpbf16ps` (two bf16 multiply-adds per fp32 lane per instruction). This is
/// `precision: bf16`; what PyTorch does for a bf16 model, and llama.cpp for a BF16 GGUF. It is
/// opt-in: the default fp32 products are exact for the stored weights and match the
/// transformers fp32 reference to ~1e-5, while these differ by bf16's rounding of each
/// activation (relative 2^-9), ~1e-2 on logits.
///
/// The weights are repacked once at load (`pack`) into 32-column panels, so the AVX-512 kernel
/// broadcasts activation pairs against whole panel rows and needs no horizontal sums (see
/// bf16_products.c), and the AMX kernel loads 16 pairs of a panel as two B tiles as they are
/// (bf16_products_amx.c). Each output is summed in the same order for any M, so a row's result
/// does not depend on what else is in the batch. The two kernels round their sums differently
/// (not bit-identical), so one process uses one of them for every M (`path`). On Zen 5 the
/// AVX-512 products run at about twice the fp32 kernels' rate; on Sapphire Rapids the AMX ones
/// at 6–9× the AVX-512 ones for M ≥ 32 (docs/benchmarks.md).
public enum BF16Products {
  /// Which kernel computes the products.
  public enum Path: String, Sendable {
    /// AMX-BF16 tiles (Sapphire Rapids and later), chosen unless `RLHFD_NO_AMX=1`.
    case amx
    /// AVX512-BF16 `vdpbf16ps` (Zen 4 / Zen 5, Cooper Lake and later).
    case avx512bf16
    /// Neither: `precision: bf16` is refused.
    case unsupported
  }

  /// This process's kernel, decided once: AMX when the CPU has AMX-BF16, the kernel grants the
  /// tile state and `RLHFD_NO_AMX=1` is not set; else AVX512-BF16 unless the CPU lacks it (or
  /// `RLHFD_NO_AVX512=1`). The daemon logs it.
  public static let path: Path =
    ckernels_has_amx() != 0 ? .amx : ckernels_has_avx512_bf16() != 0 ? .avx512bf16 : .unsupported

  /// Whether this CPU has the instructions (AVX512-BF16; `RLHFD_NO_AVX512=1` turns it off).
  /// Without them `precision: bf16` is refused at start-up rather than silently emulated.
  public static var isSupported: Bool { path != .unsupported }

  /// Whether the AMX kernel can run here, even when `RLHFD_NO_AMX=1` keeps `path` off it
  /// (tests and benchmarks call it explicitly).
  public static let amxAvailable = ckernels_amx_available() != 0

  /// Bytes of the panel layout of an `(N, K)` weight (zero-padded to 32 columns, even K).
  public static func panelByteCount(rows N: Int, columns K: Int) -> Int {
    ckernels_bf16_panel_elements(N, K) * 2
  }

  /// Writes `weight` (bf16, `(N, K)`) into `panels` (`panelByteCount` bytes, 64-byte aligned)
  /// and returns the view with the panels attached. Any CPU.
  public static func pack(
    _ weight: WeightView,
    into panels: UnsafeMutableRawPointer,
    splitting: Bool = false,
    pool: ThreadPool = .current
  ) -> WeightView {
    precondition(weight.dtype == .bf16, "bf16 panels of a \(weight.dtype) weight")
    let (N, K) = (weight.rows, weight.columns)
    let out = panels.assumingMemoryBound(to: UInt16.self)
    let w = weight.base.assumingMemoryBound(to: UInt16.self)
    pool.parallelFor((N + 31) / 32) { range in
      ckernels_bf16_pack_panels(out, w, N, K, range.lowerBound, range.upperBound)
    }
    return weight.withBF16Panels(UnsafeRawPointer(panels), splitting: splitting)
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
    path: Path = BF16Products.path,
    pool: ThreadPool = .current
  ) {
    if weight.splitsActivations {
      // Panels packed for exact fp32 products (`precision: fp32` on AMX): not rounded.
      return forwardSplit(
        out: out,
        in: input,
        weight: weight,
        bias: bias,
        M: M,
        N: N,
        K: K,
        accumulate: accumulate,
        pool: pool
      )
    }
    precondition(path != .unsupported, "bf16 products need an AVX512-BF16 CPU")
    precondition(path != .amx || amxAvailable, "AMX products on a CPU without AMX")
    guard let panels = weight.bf16Panels else { preconditionFailure("weight has no bf16 panels") }
    weight.requireShape(N, K)
    guard M > 0, N > 0 else { return }
    let amx = path == .amx
    let x = roundActivations(input, M: M, K: K, padded: amx, pool: pool)
    defer { x.deallocate() }
    products(
      out: out,
      x: x,
      panels: panels,
      bias: bias,
      M: M,
      N: N,
      K: K,
      accumulate: accumulate,
      kernel: amx ? .amx : .avx512bf16,
      pool: pool
    )
  }

  /// The C kernel `products` calls.
  enum PanelKernel {
    case amx, avx512bf16
    /// AMX over activations split in three (`forwardSplit`).
    case amxSplit
  }

  /// The panel products over prepared bf16 activations (`x` as `roundActivations` or
  /// `forwardSplit` makes it),
  /// split across the pool's threads by panels.
  static func products(
    out: UnsafeMutablePointer<Float>,  // (M, N)
    x: UnsafePointer<UInt16>,  // (M, K) or AMX-padded
    panels: UnsafeRawPointer,
    bias: UnsafePointer<Float>?,  // (N)
    M: Int,
    N: Int,
    K: Int,
    accumulate: Bool,
    kernel: PanelKernel,
    pool: ThreadPool
  ) {
    let w = panels.assumingMemoryBound(to: UInt16.self)
    let flag: Int32 = accumulate ? 1 : 0
    let count = (N + 31) / 32
    func product(_ panels: Range<Int>) {
      let (p0, p1) = (panels.lowerBound, panels.upperBound)
      switch kernel {
      case .amx: ckernels_bf16_panels_product_amx(out, x, w, bias, M, N, K, p0, p1, flag)
      case .avx512bf16: ckernels_bf16_panels_product(out, x, w, bias, M, N, K, p0, p1, flag)
      case .amxSplit:
        ckernels_bf16_panels_product_amx_split(out, x, w, bias, M, N, K, p0, p1, flag)
      }
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

  /// `bf16(input)` in a new buffer (the caller deallocates it): `(M, K)` for the AVX-512
  /// kernel, zero-padded to `(ceil(M/16)·16, ceil(K/32)·32)` for whole AMX tiles.
  static func roundActivations(
    _ input: UnsafePointer<Float>,  // (M, K)
    M: Int,
    K: Int,
    padded: Bool,
    pool: ThreadPool
  ) -> UnsafeMutablePointer<UInt16> {
    if !padded {
      let x = UnsafeMutablePointer<UInt16>.allocate(capacity: max(1, M * K))
      pool.parallelFor(M * K, minimumChunk: 1 << 16) { range in
        ckernels_bf16_round(x + range.lowerBound, input + range.lowerBound, range.count)
      }
      return x
    }
    let (rows, stride) = (ckernels_bf16_amx_rows(M), ckernels_bf16_amx_row_stride(K))
    let x = UnsafeMutablePointer<UInt16>.allocate(capacity: rows * stride)
    pool.parallelFor(rows, minimumChunk: max(1, (1 << 16) / stride)) { range in
      ckernels_bf16_round_padded(x, input, M, K, range.lowerBound, range.upperBound)
    }
    return x
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
