import CBLAS
import Glibc

/// The self-test a child process runs for one kernel set (`rlhfd blas-probe` with
/// `OPENBLAS_CORETYPE` set): is OpenBLAS really running that set, does its sgemm agree with a
/// naive reference (row-major, plain and B-transposed as the engine calls it, with and without
/// accumulation, sizes that exercise the small-matrix and edge paths), and how fast is a
/// medium sgemm. The parent reads the one line it prints (`BLASProbeResult`).
public enum BLASProbe {
  /// Largest error allowed, relative to Σ|a·b| of the element: fp32 summation over K ≤ 1024
  /// stays below 1e-5 of it; a broken kernel is off by order 1.
  static let tolerance = 1e-4

  /// A fault the tests inject into the probe of one core (`RLHFD_TEST_BLAS_PROBE_FAULT`).
  public enum Fault: String, Sendable { case wrong, crash, hang }

  /// The fault `RLHFD_TEST_BLAS_PROBE_FAULT` ("Core:fault,Core:fault") names for `core`.
  public static func fault(for core: String, in setting: String?) -> Fault? {
    for item in (setting ?? "").split(separator: ",") {
      let parts = item.split(separator: ":", maxSplits: 1).map(String.init)
      if parts.count == 2, parts[0].lowercased() == core.lowercased() {
        return Fault(rawValue: parts[1])
      }
    }
    return nil
  }

  /// Runs the probe: `expected` is the core asked for (nil: whatever OpenBLAS picked), `timed`
  /// the (M, N, K) of the timed product.
  public static func run(
    expected: String?,
    timed: (Int, Int, Int) = (512, 1024, 1024),
    fault: Fault?
  )
    -> BLASProbeResult
  {
    var noCore = rlimit(rlim_cur: 0, rlim_max: 0)  // a kernel that faults leaves no core file
    setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)
    let core = BLASLibrary.coreName
    if let expected, expected.lowercased() != core.lowercased() {
      return BLASProbeResult(core: core, status: .otherCore)
    }
    switch fault {
    case .crash:  // what AVX-512 code does on a CPU without it (past any runtime handler)
      signal(SIGILL, SIG_DFL)
      raise(SIGILL)
    case .hang: while true { pause() }
    default: break
    }
    var worst = 0.0
    let shapes = [(1, 61, 129), (37, 61, 129), (64, 64, 64), (5, 300, 17), (130, 34, 257)]
    for (index, (m, n, k)) in shapes.enumerated() {
      for transposed in [false, true] {
        let accumulate = index % 2 == 1
        var product = Product(m: m, n: n, k: k, transposed: transposed, seed: UInt64(index))
        product.run(accumulate: accumulate)
        if fault == .wrong && index == 0 { product.c[0] += 1 }
        worst = max(worst, product.worstError(accumulate: accumulate, samples: nil))
      }
    }
    let (m, n, k) = timed
    var product = Product(m: m, n: n, k: k, transposed: true, seed: 99)
    product.run(accumulate: false)  // warm-up: threads, buffers
    var best = Duration.seconds(3600)
    for _ in 0..<3 {
      let started = ContinuousClock.now
      product.run(accumulate: false)
      best = min(best, ContinuousClock.now - started)
    }
    worst = max(worst, product.worstError(accumulate: false, samples: 64))
    let seconds = Double(best.components.seconds) + Double(best.components.attoseconds) * 1e-18
    let gflops = 2 * Double(m) * Double(n) * Double(k) / max(seconds, 1e-9) / 1e9
    return BLASProbeResult(
      core: core,
      status: worst <= Self.tolerance ? .ok : .wrong,
      gflops: gflops,
      error: worst
    )
  }
}

/// One row-major sgemm C (M, N) = A (M, K) · B, B (K, N) or, transposed, (N, K); inputs in
/// [-1, 1) from a fixed generator.
struct Product {
  let m: Int, n: Int, k: Int, transposed: Bool
  var a: [Float], b: [Float], c: [Float], c0: [Float]

  init(m: Int, n: Int, k: Int, transposed: Bool, seed: UInt64) {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    func next() -> Float {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(Int64(bitPattern: state >> 40) - (1 << 23)) / Float(1 << 23)
    }
    (self.m, self.n, self.k, self.transposed) = (m, n, k, transposed)
    self.a = (0..<m * k).map { _ in next() }
    self.b = (0..<k * n).map { _ in next() }
    self.c0 = (0..<m * n).map { _ in next() }
    self.c = self.c0
  }

  /// C = A·B (or C += A·B when accumulating onto the initial C).
  mutating func run(accumulate: Bool) {
    self.c = self.c0
    let (m, n, k) = (Int32(self.m), Int32(self.n), Int32(self.k))
    let ldb = self.transposed ? k : n
    let transB = self.transposed ? CblasTrans : CblasNoTrans
    cblas_sgemm(
      CblasRowMajor,
      CblasNoTrans,
      transB,
      m,
      n,
      k,
      1,
      self.a,
      k,
      self.b,
      ldb,
      accumulate ? 1 : 0,
      &self.c,
      n
    )
  }

  /// The largest |C − reference| / Σ|a·b| over every element, or over `samples` spread ones.
  func worstError(accumulate: Bool, samples: Int?) -> Double {
    let count = self.m * self.n
    let step = samples.map { max(1, count / $0) } ?? 1
    var worst = 0.0
    for index in stride(from: 0, to: count, by: step) {
      let (i, j) = (index / self.n, index % self.n)
      var sum = accumulate ? Double(self.c0[index]) : 0
      var scale = accumulate ? abs(Double(self.c0[index])) : 0
      for p in 0..<self.k {
        let product =
          Double(self.a[i * self.k + p])
          * Double(self.transposed ? self.b[j * self.k + p] : self.b[p * self.n + j])
        sum += product
        scale += abs(product)
      }
      let error = abs(Double(self.c[index]) - sum) / max(scale, 1e-30)
      worst = max(worst, error.isNaN ? .infinity : error)
    }
    return worst
  }
}
