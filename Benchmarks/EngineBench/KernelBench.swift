// `EngineBench --kernels`: the hot kernels alone on TinyLlama / CLIP shapes, random data, for
// quick before/after checks (seconds, not minutes). Each line is the best and the median of
// `runs` timed calls after one warm-up call; the fp32 sgemm ceiling is printed first, in the
// same run, because the machine's load changes from minute to minute.
import BenchSupport
import Engine
import Foundation

enum KernelBench {
  /// `ENGINE_KERNELS_CPU=1`: one thread (pool and OpenBLAS) timed on the thread's CPU clock,
  /// so time stolen by other processes is not counted (per-core throughput, for A/B checks on
  /// a busy machine; memory-bound figures stay approximate).
  nonisolated(unsafe) static var cpuClock = false
  nonisolated(unsafe) static var pool = ThreadPool.shared

  static func now() -> Double {
    guard cpuClock else { return Clock.now() }
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }

  static func run(runs: Int) throws {
    if ProcessInfo.processInfo.environment["ENGINE_KERNELS_CPU"] == "1" {
      cpuClock = true
      pool = ThreadPool(threadCount: 1)
      BLASThreads.setCount(1)
      print("KERNEL  one thread, thread CPU clock (ENGINE_KERNELS_CPU=1)")
    }
    sgemm(runs: runs)
    for M in [512, 32] {
      for (N, K) in [(2048, 2048), (5632, 2048), (2048, 5632)] {
        try bf16Matmul(M: M, N: N, K: K, runs: runs)
      }
    }
    for M in [8, 16, 32] {
      for (N, K) in [(2048, 2048), (5632, 2048), (2048, 5632)] {
        try bf16Matmul(M: M, N: N, K: K, runs: runs, gemv: true)
      }
    }
    for (N, K) in [(5632, 2048), (2048, 5632), (32000, 2048)] { try gemv(N: N, K: K, runs: runs) }
    try bf16Panels(runs: runs)
    causal(T: 512, runs: runs)
    pagedDecode(runs: runs)
    bidirectional(runs: runs)
    quickGELU(runs: runs)
  }

  /// Times `body` `runs` times after a warm-up; returns (best, median) seconds.
  static func time(_ runs: Int, _ body: () -> Void) -> (Double, Double) {
    body()
    var times: [Double] = []
    for _ in 0..<max(1, runs) {
      let t0 = now()
      body()
      times.append(now() - t0)
    }
    return (times.min()!, median(times))
  }

  static func line(_ what: String, flops: Double, _ t: (Double, Double)) {
    print(
      "KERNEL  \(what.padding(toLength: 44, withPad: " ", startingAt: 0)) best \(fmt(flops / t.0 / 1e9, 1)) GFLOP/s, median \(fmt(flops / t.1 / 1e9, 1)) GFLOP/s (\(fmt(t.0 * 1e3, 2)) ms)"
    )
  }

  static func random(_ s: Scratch, _ count: Int, _ a: Float, seed: UInt64) -> UnsafeMutablePointer<
    Float
  > {
    let p = s.make(count)
    var rng = SplitMix(state: seed)
    for i in 0..<count { p[i] = rng.uniform(a) }
    return p
  }

  /// bf16 weights (N, K) as stored, from random fp32 (truncated).
  static func bf16Weights(N: Int, K: Int) -> UnsafeMutableRawPointer {
    let raw = UnsafeMutableRawPointer.allocate(byteCount: N * K * 2, alignment: 64)
    var rng = SplitMix(state: 5)
    let halves = raw.assumingMemoryBound(to: UInt16.self)
    for i in 0..<(N * K) { halves[i] = UInt16(rng.uniform(0.03).bitPattern >> 16) }
    return raw
  }

  /// The fp32 sgemm ceiling (OpenBLAS on fp32 weights), M = 512, a TinyLlama q projection.
  static func sgemm(runs: Int) {
    let (M, N, K) = (512, 2048, 2048)
    let s = Scratch()
    let input = random(s, M * K, 1, seed: 1)
    let w = random(s, N * K, 0.03, seed: 2)
    let out = s.make(M * N)
    let t = time(runs) {
      Matmul.forward(out: out, in: input, weight: w, bias: nil, M: M, N: N, K: K)
    }
    line("fp32 sgemm M=512 2048→2048 (ceiling)", flops: 2 * Double(M * N * K), t)
  }

  static func bf16Matmul(
    M: Int,
    N: Int,
    K: Int,
    runs: Int,
    gemv: Bool = false,
    panels path: BF16Products.Path? = nil,
    split: Bool = false
  ) throws {
    let panels = path != nil || split
    let s = Scratch()
    let input = random(s, M * K, 1, seed: 1)
    let out = s.make(M * N)
    let raw = bf16Weights(N: N, K: K)
    defer { raw.deallocate() }
    var weight = try WeightView(
      bytes: UnsafeRawBufferPointer(start: raw, count: N * K * 2),
      dtype: .bf16,
      shape: [N, K]
    )
    let packed = UnsafeMutableRawPointer.allocate(
      byteCount: panels ? BF16Products.panelByteCount(rows: N, columns: K) : 1,
      alignment: 64
    )
    defer { packed.deallocate() }
    if panels { weight = BF16Products.pack(weight, into: packed, splitting: split) }
    let t = time(runs) {
      if let path {
        panelProduct(path, out, input, weight, M: M, N: N, K: K)
      } else if gemv {
        GEMV.forward(out: out, in: input, weight: weight, bias: nil, M: M, N: N, K: K, pool: pool)
      } else {
        Matmul.forward(out: out, in: input, weight: weight, bias: nil, M: M, N: N, K: K, pool: pool)
      }
    }
    let plain = gemv ? "bf16 GEMV" : "bf16 matmul"
    let what = split ? "fp32 split3 amx" : path.map { "bf16·bf16 \($0)" } ?? plain
    line("\(what) M=\(M) \(K)→\(N)", flops: 2 * Double(M * N * K), t)
  }

  /// M = 1 over copies of the weights that together exceed the L3 (32 MiB here), taken in turn,
  /// so each call reads its weights from memory as decode does.
  static func gemv(
    N: Int,
    K: Int,
    runs: Int,
    panels path: BF16Products.Path? = nil,
    split: Bool = false
  ) throws {
    let panels = path != nil || split
    let s = Scratch()
    let input = random(s, K, 1, seed: 1)
    let out = s.make(N)
    let copies = max(1, (256 << 20) / (N * K * 2))
    let raws = (0..<copies).map { _ in bf16Weights(N: N, K: K) }
    defer { for raw in raws { raw.deallocate() } }
    let packedBytes = panels ? BF16Products.panelByteCount(rows: N, columns: K) : 1
    let packed = raws.map { _ in
      UnsafeMutableRawPointer.allocate(byteCount: packedBytes, alignment: 64)
    }
    defer { for p in packed { p.deallocate() } }
    let weights = try zip(raws, packed).map { raw, panelMemory in
      let view = try WeightView(
        bytes: UnsafeRawBufferPointer(start: raw, count: N * K * 2),
        dtype: .bf16,
        shape: [N, K]
      )
      return panels ? BF16Products.pack(view, into: panelMemory, splitting: split) : view
    }
    var next = 0
    let t = time(max(runs * 4, copies * 2)) {
      if let path {
        panelProduct(path, out, input, weights[next], M: 1, N: N, K: K)
        next = (next + 1) % copies
        return
      }
      GEMV.forward(
        out: out,
        in: input,
        weight: weights[next],
        bias: nil,
        M: 1,
        N: N,
        K: K,
        pool: pool
      )
      next = (next + 1) % copies
    }
    let bytes = Double(N * K * 2)
    let what = split ? "fp32 split3 amx" : path.map { "bf16·bf16 \($0)" } ?? "bf16 GEMV"
    print(
      "KERNEL  \("\(what) M=1 \(K)→\(N)".padding(toLength: 44, withPad: " ", startingAt: 0)) best \(fmt(bytes / t.0 / 1e9, 1)) GB/s (\(fmt(2 * Double(N * K) / t.0 / 1e9, 1)) GFLOP/s), median \(fmt(bytes / t.1 / 1e9, 1)) GB/s"
    )
  }

  static func causal(T: Int, runs: Int) {
    let (NH, NKV, HS) = (32, 4, 64)
    let s = Scratch()
    let q = random(s, T * NH * HS, 1, seed: 2)
    let k = random(s, T * NKV * HS, 1, seed: 3)
    let v = random(s, T * NKV * HS, 1, seed: 4)
    let out = s.make(T * NH * HS)
    let t = time(runs) {
      CausalAttention.forward(
        out: out,
        att: nil,
        q: q,
        keys: k,
        values: v,
        past: 0,
        T: T,
        NH: NH,
        NKV: NKV,
        HS: HS,
        pool: pool
      )
    }
    line("causal attention T=\(T) 32/4 heads", flops: 4.0 * Double(NH * HS * T * (T + 1) / 2), t)
  }

  /// Batched decode's attention: 32 sequences of 200 positions each, one query row each, over
  /// a pool of 32-position blocks taken in scrambled order, TinyLlama heads; one layer.
  static func pagedDecode(runs: Int) {
    let (sequences, L, NH, NKV, HS, blockSize) = (32, 200, 32, 4, 64, 32)
    let perSequence = (L + blockSize - 1) / blockSize
    let blocks = sequences * perSequence
    let s = Scratch()
    let keys = random(s, blocks * blockSize * NKV * HS, 1, seed: 3)
    let values = random(s, blocks * blockSize * NKV * HS, 1, seed: 4)
    let q = random(s, sequences * NH * HS, 1, seed: 2)
    let out = s.make(sequences * NH * HS)
    // Block ids interleaved across sequences, as a busy pool hands them out.
    let tables: [[Int32]] = (0..<sequences).map { seq in
      (0..<perSequence).map { Int32(($0 * sequences + seq * 7) % blocks) }
    }
    func attend(_ seq: Int) {
      tables[seq].withUnsafeBufferPointer { table in
        PagedAttention.forward(
          out: out + seq * NH * HS,
          q: q + seq * NH * HS,
          keyPool: keys,
          valuePool: values,
          blockTable: table.baseAddress!,
          blockSize: blockSize,
          past: L - 1,
          T: 1,
          NH: NH,
          NKV: NKV,
          HS: HS,
          pool: pool
        )
      }
    }
    let flops = 4.0 * Double(sequences * NH * HS * L)
    // A fork per sequence (its heads split), then one fork for all sequences (forwardBatch).
    let forkEach = time(runs) { for seq in 0..<sequences { attend(seq) } }
    line("paged decode attn 32×L200, fork per sequence", flops: flops, forkEach)
    let together = time(runs) {
      pool.parallelFor(sequences) { range in for seq in range { attend(seq) } }
    }
    line("paged decode attn 32×L200, one fork", flops: flops, together)
  }

  static func bidirectional(runs: Int) {
    let (T, NH, HS) = (577, 16, 64)
    let s = Scratch()
    let q = random(s, T * NH * HS, 1, seed: 2)
    let k = random(s, T * NH * HS, 1, seed: 3)
    let v = random(s, T * NH * HS, 1, seed: 4)
    let out = s.make(T * NH * HS)
    let t = time(runs) {
      BidirectionalAttention.forward(
        out: out,
        att: nil,
        q: q,
        k: k,
        v: v,
        T: T,
        NH: NH,
        HS: HS,
        pool: pool
      )
    }
    line("bidirectional attention T=577 16 heads", flops: 4.0 * Double(NH * HS * T * T), t)
    guard BF16Products.amxAvailable else { return }
    let amx = time(runs) {
      BidirectionalAttention.forwardAMX(
        out: out,
        q: q,
        k: k,
        v: v,
        T: T,
        NH: NH,
        HS: HS,
        pool: pool
      )
    }
    line("bidirectional attention T=577 16 heads amx", flops: 4.0 * Double(NH * HS * T * T), amx)
  }
}
