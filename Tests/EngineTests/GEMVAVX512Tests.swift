import Foundation
import Testing

@testable import Engine

/// The run-time-dispatched GEMV (AVX-512 C kernel for bf16 / f32 where the CPU has it, the
/// Swift SIMD8 path otherwise) against the scalar reference. On an AVX2-only CPU (Zen 3) these
/// check the fallback; run them with `RLHFD_NO_AVX512=1` to check the switch too.
@Suite struct GEMVAVX512Tests {
  static let rows = [1, 3, 4, 5, 8, 17, 32]
  /// N not a multiple of 4 (the C kernel's row groups); K below 16, not a multiple of 16 (the
  /// masked tail) and a multiple of 16.
  static let sizes: [(N: Int, K: Int)] = [(1, 1), (7, 33), (9, 100), (13, 64), (37, 300)]

  /// One product into `out` (which holds `start` first), by `GEMV.forward` or the reference.
  static func product(
    _ path: Path,
    _ view: WeightView,
    input: UnsafePointer<Float>,  // (M, K)
    bias: UnsafePointer<Float>?,  // (N)
    start: [Float],  // (M, N)
    M: Int,
    N: Int,
    K: Int,
    accumulate: Bool,
    pool: ThreadPool = .shared
  ) -> [Float] {
    let out = Tensor(shape: [M, N], values: start)
    switch path {
    case .dispatched, .swift:
      GEMV.forward(
        out: out.data,
        in: input,
        weight: view,
        bias: bias,
        M: M,
        N: N,
        K: K,
        accumulate: accumulate,
        pool: pool,
        avx512: path == .dispatched && GEMV.usesAVX512
      )
    case .naive:
      GEMV.forwardNaive(
        out: out.data,
        in: input,
        weight: view,
        bias: bias,
        M: M,
        N: N,
        K: K,
        accumulate: accumulate
      )
    }
    return out.toArray()
  }

  enum Path { case dispatched, swift, naive }

  @Test(arguments: [WeightView.DType.bf16, .f32])
  func matchesNaive(dtype: WeightView.DType) throws {
    for M in Self.rows {
      for (N, K) in Self.sizes {
        let values = randomFloats(N * K, seed: 11)
        let input = Tensor(shape: [M, K], values: randomFloats(M * K, seed: 12))
        let start = randomFloats(M * N, seed: 13)
        let biasValues = Tensor(shape: [N], values: randomFloats(N, seed: 14))
        try withWeights(values, dtype: dtype, shape: [N, K]) { view in
          for withBias in [false, true] {
            let bias = withBias ? biasValues.data : nil
            for accumulate in [false, true] {
              let naive = Self.product(
                .naive,
                view,
                input: input.data,
                bias: bias,
                start: start,
                M: M,
                N: N,
                K: K,
                accumulate: accumulate
              )
              for path in [Path.dispatched, .swift] {
                expectClose(
                  Self.product(
                    path,
                    view,
                    input: input.data,
                    bias: bias,
                    start: start,
                    M: M,
                    N: N,
                    K: K,
                    accumulate: accumulate
                  ),
                  naive,
                  "\(path) \(dtype) M \(M) N \(N) K \(K) bias \(withBias) accumulate \(accumulate)"
                )
              }
            }
          }
        }
      }
    }
  }

  /// The kernel is chosen where the CPU reports AVX-512F/BW/DQ/VL, unless switched off, so the
  /// other tests here do exercise it on such a host.
  @Test func dispatchFollowsCPUFlags() throws {
    #if os(Linux) && arch(x86_64)
      let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
      let line = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }
      let flags = Set((line ?? "").split(separator: " ").map(String.init))
      let hardware = ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains)
      let forcedOff = ProcessInfo.processInfo.environment["RLHFD_NO_AVX512"] == "1"
      #expect(GEMV.usesAVX512 == (hardware && !forcedOff))
    #endif
  }

  /// `RLHFD_NO_AVX512=1` (set for the whole test process) turns the C kernel off: the
  /// dispatched path is then the Swift one, bit for bit. Without it, on an AVX-512 CPU, only
  /// the summation order differs, so the two agree to rounding.
  @Test(arguments: [WeightView.DType.bf16, .f32])
  func fallbackEqualsSwiftPath(dtype: WeightView.DType) throws {
    let forcedOff = ProcessInfo.processInfo.environment["RLHFD_NO_AVX512"] == "1"
    if forcedOff { #expect(!GEMV.usesAVX512) }
    let (M, N, K) = (17, 37, 300)
    let values = randomFloats(N * K, seed: 15)
    let input = Tensor(shape: [M, K], values: randomFloats(M * K, seed: 16))
    let bias = Tensor(shape: [N], values: randomFloats(N, seed: 17))
    let start = randomFloats(M * N, seed: 18)
    try withWeights(values, dtype: dtype, shape: [N, K]) { view in
      let dispatched = Self.product(
        .dispatched,
        view,
        input: input.data,
        bias: bias.data,
        start: start,
        M: M,
        N: N,
        K: K,
        accumulate: true
      )
      let swift = Self.product(
        .swift,
        view,
        input: input.data,
        bias: bias.data,
        start: start,
        M: M,
        N: N,
        K: K,
        accumulate: true
      )
      if GEMV.usesAVX512 {
        expectClose(dispatched, swift, "\(dtype)")
      } else {
        #expect(dispatched == swift, "\(dtype)")
      }
    }
  }

  /// Each output of the C kernel is one dot product in a fixed order, whichever row group
  /// (4, or 1 at the end of a range) it falls in: splitting rows across threads changes nothing.
  @Test(arguments: [2, 3])
  func resultDoesNotDependOnThreadCount(threads: Int) throws {
    let (M, N, K) = (9, 41, 300)
    let values = randomFloats(N * K, seed: 19)
    let input = Tensor(shape: [M, K], values: randomFloats(M * K, seed: 20))
    try withWeights(values, dtype: .bf16, shape: [N, K]) { view in
      let single = Self.product(
        .dispatched,
        view,
        input: input.data,
        bias: nil,
        start: [Float](repeating: 0, count: M * N),
        M: M,
        N: N,
        K: K,
        accumulate: false,
        pool: ThreadPool(threadCount: 1)
      )
      let split = Self.product(
        .dispatched,
        view,
        input: input.data,
        bias: nil,
        start: [Float](repeating: 0, count: M * N),
        M: M,
        N: N,
        K: K,
        accumulate: false,
        pool: ThreadPool(threadCount: threads)
      )
      #expect(single == split)
    }
  }
}
