import Foundation
import Testing

@testable import Engine

/// Each bf16 kernel the CPU can run (AMX tiles, AVX512-BF16), called explicitly, against the
/// reference (`BF16Products.forwardNaive`: bf16-rounded activations, Double sums) across the
/// tile edges of both: M across the 12-row AVX-512 tile and the 16/32-row AMX groups, N across
/// the 16-column tile halves and 32-column panels, K across the 32-wide AMX k step (odd K, a
/// partial last step). BF16ProductsTests covers the process's own path through Matmul.
@Suite struct BF16ProductsPathTests {
  /// The kernel on `path`, or the reference, into a copy of `start`.
  static func product(
    _ path: BF16Products.Path?,  // nil: the reference
    _ view: WeightView,
    input: [Float],  // (M, K)
    bias: [Float]?,  // (N)
    start: [Float],  // (M, N)
    M: Int,
    N: Int,
    K: Int,
    accumulate: Bool
  ) -> [Float] {
    let out = Tensor(shape: [M, N], values: start)
    let biasTensor = Tensor(shape: [N], values: bias ?? Array(repeating: 0, count: N))
    let biasPointer = bias == nil ? nil : UnsafePointer(biasTensor.data)
    if let path {
      BF16Products.forward(
        out: out.data,
        in: input,
        weight: view,
        bias: biasPointer,
        M: M,
        N: N,
        K: K,
        accumulate: accumulate,
        path: path
      )
    } else {
      BF16Products.forwardNaive(
        out: out.data,
        in: input,
        weight: view,
        bias: biasPointer,
        M: M,
        N: N,
        K: K,
        accumulate: accumulate
      )
    }
    return out.toArray()
  }

  /// Kernel vs reference for one shape; `bias` and `accumulate` as given.
  static func check(
    _ path: BF16Products.Path,
    M: Int,
    N: Int,
    K: Int,
    bias withBias: Bool,
    accumulate: Bool,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let input = randomFloats(M * K, seed: UInt64(100 + M))
    let start = randomFloats(M * N, seed: 22)
    let bias = withBias ? randomFloats(N, seed: 23) : nil
    try BF16ProductsTests.withPanels(randomFloats(N * K, seed: 24), shape: [N, K]) { view in
      let run = { (path: BF16Products.Path?) in
        product(
          path,
          view,
          input: input,
          bias: bias,
          start: start,
          M: M,
          N: N,
          K: K,
          accumulate: accumulate
        )
      }
      let error = relativeError(run(path), run(nil))
      #expect(
        error <= 2e-6,
        "\(path) M \(M) N \(N) K \(K) bias \(withBias) accumulate \(accumulate): \(error)",
        sourceLocation: sourceLocation
      )
    }
  }

  /// M 1–40 (one and two 16-row groups, a 32-row group plus a tail) and large M.
  static func everyM(_ path: BF16Products.Path) throws {
    for M in 1...40 {
      try check(path, M: M, N: 33, K: 33, bias: M % 2 == 0, accumulate: M % 3 == 0)
    }
    for M in [100, 512] {
      try check(path, M: M, N: 100, K: 300, bias: true, accumulate: M == 100)
    }
    // AMX blocking: K over one k block (512), M over one row block (256), N over 8 panels in
    // one call (a product too small to be split between threads).
    try check(path, M: 300, N: 40, K: 1100, bias: true, accumulate: true)
    try check(path, M: 2, N: 300, K: 5, bias: true, accumulate: false)
  }

  /// N and K on both sides of every tile and panel edge, at M of one group, a group and a row,
  /// two groups and a row; bias and accumulation both ways at one of them.
  static func edges(_ path: BF16Products.Path) throws {
    for M in [1, 16, 17, 33] {
      for N in [1, 15, 16, 17, 31, 32, 33, 65] {
        for K in [1, 2, 31, 32, 33, 63, 64, 65, 500, 512, 513, 1030] {
          try check(path, M: M, N: N, K: K, bias: false, accumulate: false)
        }
      }
    }
    for (bias, accumulate) in [(false, true), (true, false), (true, true)] {
      try check(path, M: 17, N: 70, K: 97, bias: bias, accumulate: accumulate)
    }
  }

  /// A row's output is bit-identical alone and in a batch, wherever it falls in the tiles.
  static func batchIndependence(_ path: BF16Products.Path) throws {
    let (M, N, K) = (45, 70, 1100)
    let input = randomFloats(M * K, seed: 31)
    try BF16ProductsTests.withPanels(randomFloats(N * K, seed: 32), shape: [N, K]) { view in
      let run = { (input: [Float], M: Int) in
        product(
          path,
          view,
          input: input,
          bias: nil,
          start: Array(repeating: 0, count: M * N),
          M: M,
          N: N,
          K: K,
          accumulate: false
        )
      }
      let all = run(input, M)
      for m in [0, 11, 12, 15, 16, 31, 32, 44] {
        let alone = run(Array(input[(m * K)..<((m + 1) * K)]), 1)
        #expect(alone == Array(all[(m * N)..<((m + 1) * N)]), "\(path) row \(m)")
      }
      // Rows 32..<45 as a batch of their own: same bits as inside the batch of 45.
      let tail = run(Array(input[(32 * K)...]), M - 32)
      #expect(tail == Array(all[(32 * N)...]), "\(path) rows 32..<45")
    }
  }

  @Test(
    .enabled(if: BF16Products.amxAvailable, "no AMX-BF16, or Linux did not grant the tile state")
  )
  func amxMatchesNaiveAtEveryM() throws { try Self.everyM(.amx) }

  @Test(
    .enabled(if: BF16Products.amxAvailable, "no AMX-BF16, or Linux did not grant the tile state")
  )
  func amxMatchesNaiveAcrossEdges() throws { try Self.edges(.amx) }

  @Test(
    .enabled(if: BF16Products.amxAvailable, "no AMX-BF16, or Linux did not grant the tile state")
  )
  func amxRowsDoNotDependOnTheBatch() throws { try Self.batchIndependence(.amx) }

  @Test(.enabled(if: BF16Products.isSupported, "no AVX512-BF16 (or RLHFD_NO_AVX512=1)"))
  func avx512MatchesNaiveAtEveryM() throws { try Self.everyM(.avx512bf16) }

  @Test(.enabled(if: BF16Products.isSupported, "no AVX512-BF16 (or RLHFD_NO_AVX512=1)"))
  func avx512MatchesNaiveAcrossEdges() throws { try Self.edges(.avx512bf16) }

  @Test(.enabled(if: BF16Products.isSupported, "no AVX512-BF16 (or RLHFD_NO_AVX512=1)"))
  func avx512RowsDoNotDependOnTheBatch() throws { try Self.batchIndependence(.avx512bf16) }

  /// The process's path follows the CPU flags, the tile permission and `RLHFD_NO_AMX=1` (run
  /// the suite with it set to check the switch).
  @Test func pathFollowsCPUAndSwitch() throws {
    let forcedOff = ProcessInfo.processInfo.environment["RLHFD_NO_AMX"] == "1"
    #if os(Linux) && arch(x86_64)
      let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
      let line = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }
      let flags = Set((line ?? "").split(separator: " ").map(String.init))
      if !flags.contains("amx_tile") || !flags.contains("amx_bf16") {
        #expect(!BF16Products.amxAvailable)
      }
    #endif
    if BF16Products.amxAvailable {
      #expect(BF16Products.path == (forcedOff ? .avx512bf16 : .amx))
    } else {
      #expect(BF16Products.path != .amx)
    }
    #expect(BF16Products.isSupported == (BF16Products.path != .unsupported))
  }
}
