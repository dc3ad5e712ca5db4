// The machine's limits measured in the same run, because the host may not be the one
// PERFORMANCE.md describes: the sgemm ceiling (OpenBLAS through `Matmul.forward` on fp32
// weights, M = 512, the shapes of a TinyLlama layer) and the 2-thread read bandwidth (a SIMD sum
// over 2 GiB split across the engine's pool).
import Engine
import Foundation

public enum Limits {
  /// Best GFLOP/s of `Matmul.forward` (cblas_sgemm) at M × N × K, fp32 weights (N, K).
  public static func sgemm(M: Int, N: Int, K: Int, runs: Int = 5) -> Double {
    let s = Scratch()
    let a = s.make(M * K)
    let w = s.make(N * K)
    let out = s.make(M * N)
    var rng = SplitMix(state: 99)
    for i in 0..<(M * K) { a[i] = rng.uniform(1) }
    for i in 0..<(N * K) { w[i] = rng.uniform(0.03) }
    var times: [Double] = []
    for run in 0...runs {
      let t0 = Clock.now()
      Matmul.forward(out: out, in: a, weight: w, bias: nil, M: M, N: N, K: K)
      if run > 0 { times.append(Clock.now() - t0) }
    }
    return 2 * Double(M * N * K) / times.min()! / 1e9  // best of the runs: a ceiling
  }

  /// Best GB/s of reading `bytes` once with the shared pool's threads (5 passes after one
  /// warm-up pass that also faults the pages in).
  public static func readBandwidth(bytes: Int = 2 << 30, passes: Int = 5) -> Double {
    let count = bytes / 4
    let s = Scratch()
    let buffer = s.make(count)
    for i in stride(from: 0, to: count, by: 1024) { buffer[i] = Float(i & 7) }
    let pool = ThreadPool.shared
    let lanes = 64
    var times: [Double] = []
    var sink: Float = 0
    for pass in 0...passes {
      let partial = UnsafeMutablePointer<Float>.allocate(capacity: pool.threadCount * 16)
      partial.initialize(repeating: 0, count: pool.threadCount * 16)
      let t0 = Clock.now()
      let chunks = pool.threadCount
      pool.parallelFor(chunks) { parts in
        for part in parts {
          // Four sequential streams per thread (one accumulator each), like GEMV's row walk.
          let range = ThreadPool.chunk(part, of: chunks, count: count / lanes)
          let raw = UnsafeRawPointer(buffer)
          let quarter = range.count / 4 * lanes
          let base = range.lowerBound * lanes
          var s0 = SIMD16<Float>()
          var s1 = SIMD16<Float>()
          var s2 = SIMD16<Float>()
          var s3 = SIMD16<Float>()
          var i = 0
          while i < quarter {
            s0 += raw.loadUnaligned(fromByteOffset: (base + i) * 4, as: SIMD16<Float>.self)
            s1 += raw.loadUnaligned(
              fromByteOffset: (base + quarter + i) * 4,
              as: SIMD16<Float>.self
            )
            s2 += raw.loadUnaligned(
              fromByteOffset: (base + 2 * quarter + i) * 4,
              as: SIMD16<Float>.self
            )
            s3 += raw.loadUnaligned(
              fromByteOffset: (base + 3 * quarter + i) * 4,
              as: SIMD16<Float>.self
            )
            i += 16
          }
          partial[part * 16] = ((s0 + s1) + (s2 + s3)).sum()
        }
      }
      let dt = Clock.now() - t0
      for p in 0..<chunks { sink += partial[p * 16] }
      partial.deallocate()
      if pass > 0 { times.append(dt) }
    }
    if sink == .infinity { print("") }  // keep the sums alive
    // A limit is the best the memory delivered (medians are kept for the run's figures).
    let readBytes = Double(count / lanes / pool.threadCount * pool.threadCount / 4 * 4 * lanes * 4)
    return readBytes / times.min()! / 1e9
  }
}
