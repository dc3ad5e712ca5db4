/// `out(M, N) = in(M, K) · W(N, K)^T (+ bias)` for decode, M from 1 to `maxRows`, reading f32,
/// f16 or bf16 weights directly (half-precision is widened to fp32 in registers).
///
/// At small M the product is bound by memory bandwidth, not arithmetic: every weight byte is
/// read once per call. OpenBLAS reads weights at about half the bandwidth at M = 1 and is weak
/// at M = 2–8 with weights stored rows-as-outputs (PERFORMANCE.md), and it cannot read bf16.
/// This kernel streams each weight row once and splits the rows across the pool's threads.
/// For M ≥ 4 each decoded chunk of a row serves four activation rows at once; leftover rows
/// re-read the row from L1 (a row of K = 5632 bf16 is 11 KiB).
public enum GEMV {
  /// The largest M this kernel is meant for; above it, sgemm on converted blocks wins.
  public static let maxRows = 8

  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (M, N)
    in input: UnsafePointer<Float>,  // (M, K)
    weight: WeightView,  // (N, K)
    bias: UnsafePointer<Float>?,  // (N)
    M: Int,
    N: Int,
    K: Int,
    accumulate: Bool = false,
    pool: ThreadPool = .shared
  ) {
    precondition(
      weight.rows == N && weight.columns == K,
      "weight \(weight.shape) is not (\(N), \(K))"
    )
    guard M > 0 else { return }
    let product = Product(
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
    precondition(
      weight.rows == N && weight.columns == K,
      "weight \(weight.shape) is not (\(N), \(K))"
    )
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

/// The arguments of one GEMV call, so the per-dtype loops below need not repeat them.
private struct Product {
  let out: UnsafeMutablePointer<Float>  // (M, N)
  let input: UnsafePointer<Float>  // (M, K)
  let weight: UnsafeRawPointer  // (N, K)
  let bias: UnsafePointer<Float>?  // (N)
  let M: Int
  let N: Int
  let K: Int
  let accumulate: Bool

  func run<Element: ElementDecoding>(_: Element.Type, pool: ThreadPool) {
    let rowBytes = K * Element.byteSize
    // Tiny products (a few thousand multiply-adds) are not worth waking a worker for.
    pool.parallelFor(N, minimumChunk: max(1, 4096 / max(1, K * M))) { rows in
      for n in rows {
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

  /// One weight row against one activation row: four independent accumulators (32 elements
  /// per iteration) hide the add latency; the loop is bound by the weight stream.
  @inline(__always)
  private func dot1<Element: ElementDecoding>(
    _: Element.Type,
    _ row: UnsafeRawPointer,  // (K) elements
    _ x: UnsafePointer<Float>  // (K)
  ) -> Float {
    let xs = UnsafeRawPointer(x)
    var sum0 = SIMD8<Float>()
    var sum1 = SIMD8<Float>()
    var sum2 = SIMD8<Float>()
    var sum3 = SIMD8<Float>()
    var k = 0
    while k &+ 32 <= K {
      sum0 += Element.load8(row, k) * F32Elements.load8(xs, k)
      sum1 += Element.load8(row, k &+ 8) * F32Elements.load8(xs, k &+ 8)
      sum2 += Element.load8(row, k &+ 16) * F32Elements.load8(xs, k &+ 16)
      sum3 += Element.load8(row, k &+ 24) * F32Elements.load8(xs, k &+ 24)
      k &+= 32
    }
    while k &+ 8 <= K {
      sum0 += Element.load8(row, k) * F32Elements.load8(xs, k)
      k &+= 8
    }
    var sum = ((sum0 + sum1) + (sum2 + sum3)).sum()
    while k < K {
      sum += Element.load1(row, k) * x[k]
      k &+= 1
    }
    return sum
  }

  /// One weight row against four activation rows: each chunk of the weight row is decoded once
  /// and used four times.
  @inline(__always)
  private func dot4<Element: ElementDecoding>(
    _: Element.Type,
    _ row: UnsafeRawPointer,  // (K) elements
    _ x0: UnsafePointer<Float>,  // (K)
    _ x1: UnsafePointer<Float>,  // (K)
    _ x2: UnsafePointer<Float>,  // (K)
    _ x3: UnsafePointer<Float>  // (K)
  ) -> SIMD4<Float> {
    let (r0, r1, r2, r3) = (
      UnsafeRawPointer(x0), UnsafeRawPointer(x1), UnsafeRawPointer(x2), UnsafeRawPointer(x3)
    )
    var sum0 = SIMD8<Float>()
    var sum1 = SIMD8<Float>()
    var sum2 = SIMD8<Float>()
    var sum3 = SIMD8<Float>()
    var k = 0
    while k &+ 8 <= K {
      let w = Element.load8(row, k)
      sum0 += w * F32Elements.load8(r0, k)
      sum1 += w * F32Elements.load8(r1, k)
      sum2 += w * F32Elements.load8(r2, k)
      sum3 += w * F32Elements.load8(r3, k)
      k &+= 8
    }
    var sums = SIMD4<Float>(sum0.sum(), sum1.sum(), sum2.sum(), sum3.sum())
    while k < K {
      let w = Element.load1(row, k)
      sums += w * SIMD4<Float>(x0[k], x1[k], x2[k], x3[k])
      k &+= 1
    }
    return sums
  }
}
