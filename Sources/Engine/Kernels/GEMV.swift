import CKernels

/// `out(M, N) = in(M, K) · W(N, K)^T (+ bias)` for decode, M from 1 to `maxRows`, reading f32,
/// f16 or bf16 weights directly (half-precision is widened to fp32 in registers).
///
/// At small M the product is bound by memory bandwidth, not arithmetic: every weight byte is
/// read once per call. OpenBLAS reads weights at about half the bandwidth at M = 1 and is weak
/// at M = 2–8 with weights stored rows-as-outputs (PERFORMANCE.md), and it cannot read bf16.
/// This kernel streams each weight row once and splits the rows across the pool's threads.
/// For M ≥ 4 two weight rows at a time meet four activation rows at a time (eight
/// accumulators): each decoded chunk serves four rows, each activation chunk two. The pair of
/// weight rows stays in L1 while the M activation rows (≤ 32 × K fp32, in L2) pass, so weights
/// are read from memory once.
///
/// On CPUs with AVX-512 (checked once at run time; `RLHFD_NO_AVX512=1` turns it off) bf16 and
/// f32 weights go through the C kernel in CKernels instead: four weight rows against four
/// activation rows per step with 16-lane fp32 FMAs (twice the AVX2 rate), so the same fp32
/// numerics with a different summation order. The rest of the Engine is
/// built for x86-64-v3 (AVX2), which stays the documented target (Zen 3); f16 stays in Swift.
public enum GEMV {
  /// The largest M this kernel is meant for; above it, sgemm on converted blocks wins. At
  /// M = 32 (batched decode) this kernel and the convert-then-sgemm path run at the same speed
  /// on one core (~85 GFLOP/s, Zen 5, x86-64-v3 build), but this one splits across both cores
  /// without a conversion pass: on two threads it was ahead in every busy-machine A/B run.
  public static let maxRows = 32

  /// Whether bf16 and f32 weights take the AVX-512 kernel (CPU support, no `RLHFD_NO_AVX512=1`).
  static let usesAVX512 = ckernels_has_avx512() != 0

  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (M, N)
    in input: UnsafePointer<Float>,  // (M, K)
    weight: WeightView,  // (N, K)
    bias: UnsafePointer<Float>?,  // (N)
    M: Int,
    N: Int,
    K: Int,
    accumulate: Bool = false,
    pool: ThreadPool = .current
  ) {
    if weight.bf16Panels != nil {
      // `precision: bf16`: the same products as every other M (BF16Products.swift).
      return BF16Products.forward(
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
    forward(
      out: out,
      in: input,
      weight: weight,
      bias: bias,
      M: M,
      N: N,
      K: K,
      accumulate: accumulate,
      pool: pool,
      avx512: usesAVX512
    )
  }

  /// `forward` with the kernel chosen by the caller: `avx512: false` is the Swift path on any
  /// CPU (tests compare the two); `true` requires `usesAVX512`.
  static func forward(
    out: UnsafeMutablePointer<Float>,  // (M, N)
    in input: UnsafePointer<Float>,  // (M, K)
    weight: WeightView,  // (N, K)
    bias: UnsafePointer<Float>?,  // (N)
    M: Int,
    N: Int,
    K: Int,
    accumulate: Bool,
    pool: ThreadPool,
    avx512: Bool
  ) {
    precondition(!avx512 || usesAVX512, "the AVX-512 GEMV needs an AVX-512 CPU")
    weight.requireShape(N, K)
    guard M > 0 else { return }
    let product = GEMVProduct(
      out: out,
      input: input,
      weight: weight.base,
      bias: bias,
      M: M,
      N: N,
      K: K,
      accumulate: accumulate
    )
    switch weight.dtype {
    case .f32 where avx512: product.runAVX512(bf16: false, pool: pool)
    case .bf16 where avx512: product.runAVX512(bf16: true, pool: pool)
    case .f32: product.run(F32Elements.self, pool: pool)
    case .f16: product.run(F16Elements.self, pool: pool)
    case .bf16: product.run(BF16Elements.self, pool: pool)
    }
  }

  /// Reference: scalar decoding of each element, Double accumulation, one thread.
  public static func forwardNaive(
    out: UnsafeMutablePointer<Float>,  // (M, N)
    in input: UnsafePointer<Float>,  // (M, K)
    weight: WeightView,  // (N, K)
    bias: UnsafePointer<Float>?,  // (N)
    M: Int,
    N: Int,
    K: Int,
    accumulate: Bool = false
  ) {
    weight.requireShape(N, K)
    for m in 0..<M {
      for n in 0..<N {
        var sum = Double(bias?[n] ?? 0)
        for k in 0..<K {
          sum += Double(input[m * K + k]) * Double(weight.element(n * K + k))
        }
        out[m * N + n] = (accumulate ? out[m * N + n] : 0) + Float(sum)
      }
    }
  }
}

/// The arguments of one GEMV call, so the per-dtype loops (GEMV+Dots.swift) need not repeat them.
struct GEMVProduct {
  let out: UnsafeMutablePointer<Float>  // (M, N)
  let input: UnsafePointer<Float>  // (M, K)
  let weight: UnsafeRawPointer  // (N, K)
  let bias: UnsafePointer<Float>?  // (N)
  let M: Int
  let N: Int
  let K: Int
  let accumulate: Bool

  /// Tiny products (a few thousand multiply-adds) are not worth waking a worker for.
  private var minimumChunk: Int { max(1, 4096 / max(1, K * M)) }

  /// bf16 (`bf16`) or f32 weights through the C kernel, one call per row range.
  func runAVX512(bf16: Bool, pool: ThreadPool) {
    pool.parallelFor(N, minimumChunk: minimumChunk) { rows in
      let (n0, n1, flag): (Int, Int, Int32) = (rows.lowerBound, rows.upperBound, accumulate ? 1 : 0)
      if bf16 {
        let w = weight.assumingMemoryBound(to: UInt16.self)
        ckernels_gemv_bf16_avx512(out, input, w, bias, M, N, K, n0, n1, flag)
      } else {
        let w = weight.assumingMemoryBound(to: Float.self)
        ckernels_gemv_f32_avx512(out, input, w, bias, M, N, K, n0, n1, flag)
      }
    }
  }

  func run<Element: ElementDecoding>(_: Element.Type, pool: ThreadPool) {
    let rowBytes = K * Element.byteSize
    pool.parallelFor(N, minimumChunk: minimumChunk) { rows in
      var n = rows.lowerBound
      // M < 4 (decode) goes row by row below: one stream, `dot1`'s four accumulators. (Four
      // rows at a time with one x load for the four measured 2x slower per core on Zen 5.)
      if M >= 4 {
        // M ≥ 4: two weight rows against four activation rows per step (eight accumulators);
        // the pair stays in L1 while all M rows pass, so weights are read from memory once.
        while n &+ 2 <= rows.upperBound {
          let row = weight + n &* rowBytes
          var m = 0
          while m &+ 4 <= M {
            let (a, b) = pair4(Element.self, row, row + rowBytes, input + m &* K)
            for i in 0..<4 {
              store(a[i], m: m &+ i, n: n)
              store(b[i], m: m &+ i, n: n &+ 1)
            }
            m &+= 4
          }
          while m < M {
            store(dot1(Element.self, row, input + m &* K), m: m, n: n)
            store(dot1(Element.self, row + rowBytes, input + m &* K), m: m, n: n &+ 1)
            m &+= 1
          }
          n &+= 2
        }
      }
      for n in n..<rows.upperBound {
        let row = weight + n &* rowBytes
        var m = 0
        while m &+ 4 <= M {
          let x = input + m &* K
          let sums = dot4(Element.self, row, x, x + K, x + 2 &* K, x + 3 &* K)
          for i in 0..<4 { store(sums[i], m: m &+ i, n: n) }
          m &+= 4
        }
        while m < M {
          store(dot1(Element.self, row, input + m &* K), m: m, n: n)
          m &+= 1
        }
      }
    }
  }

  @inline(__always)
  private func store(_ sum: Float, m: Int, n: Int) {
    let value = sum + (bias?[n] ?? 0)
    let index = m &* N &+ n
    out[index] = accumulate ? out[index] + value : value
  }
}
