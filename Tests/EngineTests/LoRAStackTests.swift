// The stacked LoRA forward (one A product over several linears' stacked A matrices per adapter)
// against each part's naive delta: adapters with different subsets of the outputs and ranks,
// decode-sized groups in parallel, a large group, one group split between threads.
import Engine
import Testing

@Suite struct LoRAStackTests {
  /// A stack's values, owned: each part's A (r_t, K) and B (N_t, r_t), and the stacked A.
  final class Owned {
    let buffer: UnsafeMutableBufferPointer<Float>
    var stack: LoRAStack!

    init(ranks: [Int], targets: [Int], N: [Int], K: Int, seed: UInt64) throws {
      let S = ranks.reduce(0, +)
      let bCount = zip(ranks, targets).reduce(0) { $0 + $1.0 * N[$1.1] }
      buffer = .allocate(capacity: 2 * S * K + bCount)
      let stacked = randomFloats(S * K, seed: seed)
      _ = buffer.initialize(from: stacked + stacked + randomFloats(bCount, seed: seed + 1))
      func view(_ start: Int, _ shape: [Int]) throws -> WeightView {
        try WeightView(
          bytes: UnsafeRawBufferPointer(
            start: buffer.baseAddress! + start,
            count: shape[0] * shape[1] * 4
          ),
          dtype: .f32,
          shape: shape
        )
      }
      // Parts read their own copy of A (the second half), the stack the first: the fast path
      // must find each part's rows in the stacked matrix.
      var (aOffset, bOffset) = (S * K, 2 * S * K)
      var parts: [LoRAWeights] = []
      for (t, r) in ranks.enumerated() {
        let n = N[targets[t]]
        parts.append(
          LoRAWeights(
            a: try view(aOffset, [r, K]),
            b: try view(bOffset, [n, r]),
            scale: Float(t) + 0.75
          )
        )
        aOffset += r * K
        bOffset += n * r
      }
      stack = LoRAStack(a: try view(0, [S, K]), parts: parts, targets: targets)
    }

    deinit { buffer.deallocate() }
  }

  @Test(arguments: [0, 1, 2])
  func matchesEachPartsNaiveDelta(kind: Int) throws {
    let (M, K) = ([12, 60, 12][kind], 24)
    let N = [10, 6, 7]
    let groups: [[Int32]] = [
      [[0, 3, 6, 9], [1, 4], [2, 11, 7], [10]],
      [(0..<40).map { Int32($0) }, [41, 45], [50, 59, 42]],
      [[1, 2, 3, 4, 5, 9, 11]],
    ][kind]
    // Per group: which outputs it adapts, with which ranks.
    let shapes: [(ranks: [Int], targets: [Int])] = [
      ([2, 3, 2], [0, 1, 2]), ([4, 1], [0, 2]), ([3], [1]), ([1, 2, 5], [0, 1, 2]),
    ]
    let stacks = try groups.indices.map { g in
      try Owned(ranks: shapes[g].ranks, targets: shapes[g].targets, N: N, K: K, seed: UInt64(g))
    }
    let input = Tensor(shape: [M, K], values: randomFloats(M * K, seed: 50))
    let starts = N.indices.map { randomFloats(M * N[$0], seed: UInt64(60 + $0)) }
    // Tensor is not copyable: the outputs are plain buffers.
    let fast = starts.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: $0.count) }
    let naive = starts.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: $0.count) }
    defer { for buffer in fast + naive { buffer.deallocate() } }
    for t in N.indices {
      _ = fast[t].initialize(from: starts[t])
      _ = naive[t].initialize(from: starts[t])
    }
    LoRA.forward(
      outs: fast.map { $0.baseAddress! },
      N: N,
      in: input.data,
      groups: groups,
      stacks: stacks.map(\.stack),
      K: K
    )
    for g in groups.indices {
      groups[g].withUnsafeBufferPointer {
        LoRA.forwardStackedNaive(
          outs: naive.map { $0.baseAddress! },
          in: input.data,
          rows: $0,
          stack: stacks[g].stack,
          K: K
        )
      }
    }
    for t in N.indices {
      expectClose(Array(fast[t]), Array(naive[t]), tolerance: 1e-5, "output \(t)")
    }
    // Rows of no group are untouched.
    let listed = Set(groups.joined().map(Int.init))
    for t in N.indices {
      for m in 0..<M where !listed.contains(m) {
        let row = (m * N[t])..<((m + 1) * N[t])
        #expect(Array(fast[t][row]) == Array(starts[t][row]))
      }
    }
  }

  /// bf16 panels: the stacked A packed once, each part's panels a slice of them (r a multiple
  /// of the 32-row panels), give exactly what each part packed alone gives.
  @Test(.enabled(if: BF16Products.isSupported, "no AVX512-BF16"))
  func slicedBF16PanelsEqualPartsPackedAlone() throws {
    let (M, K, r) = (5, 64, 32)
    let N = [40, 8]
    let S = 2 * r
    let aValues = randomFloats(S * K, seed: 7).map { HalfPrecision.bf16(from: $0) }
    let bValues = N.indices.map { randomFloats(N[$0] * r, seed: UInt64(8 + $0)) }
      .map { $0.map { HalfPrecision.bf16(from: $0) } }
    let stackedPanels = UnsafeMutableRawPointer.allocate(
      byteCount: BF16Products.panelByteCount(rows: S, columns: K),
      alignment: 64
    )
    let partPanels = (0..<4).map { _ in
      UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 64)
    }
    defer {
      stackedPanels.deallocate()
      for p in partPanels { p.deallocate() }
    }
    let rows: [Int32] = [4, 0, 2]
    let input = Tensor(shape: [M, K], values: randomFloats(M * K, seed: 9))
    let starts = N.indices.map { randomFloats(M * N[$0], seed: UInt64(10 + $0)) }
    var (stacked0, stacked1) = (starts[0], starts[1])
    var alone = starts
    try aValues.withUnsafeBytes { a in
      try bValues[0].withUnsafeBytes { b0 in
        try bValues[1].withUnsafeBytes { b1 in
          let bs = [b0, b1]
          let aView = try WeightView(bytes: a, dtype: .bf16, shape: [S, K])
          let packed = BF16Products.pack(aView, into: stackedPanels)
          var sliced: [LoRAWeights] = []
          var own: [LoRAWeights] = []
          for t in 0..<2 {
            let slice = UnsafeRawBufferPointer(rebasing: a[(t * r * K * 2)..<((t + 1) * r * K * 2)])
            let aPart = try WeightView(bytes: slice, dtype: .bf16, shape: [r, K])
            let bPart = BF16Products.pack(
              try WeightView(bytes: bs[t], dtype: .bf16, shape: [N[t], r]),
              into: partPanels[2 + t]
            )
            let offset = t * BF16Products.panelByteCount(rows: r, columns: K)
            sliced.append(
              LoRAWeights(
                a: aPart.withBF16Panels(packed.bf16Panels! + offset),
                b: bPart,
                scale: 0.5
              )
            )
            own.append(
              LoRAWeights(a: BF16Products.pack(aPart, into: partPanels[t]), b: bPart, scale: 0.5)
            )
          }
          let stack = LoRAStack(a: packed, parts: sliced, targets: [0, 1])
          stacked0.withUnsafeMutableBufferPointer { o0 in
            stacked1.withUnsafeMutableBufferPointer { o1 in
              LoRA.forward(
                outs: [o0.baseAddress!, o1.baseAddress!],
                N: N,
                in: input.data,
                groups: [rows],
                stacks: [stack],
                K: K
              )
            }
          }
          for t in 0..<2 {
            alone[t].withUnsafeMutableBufferPointer { out in
              rows.withUnsafeBufferPointer {
                LoRA.forward(
                  out: out.baseAddress!,
                  in: input.data,
                  rows: $0,
                  lora: own[t],
                  N: N[t],
                  K: K
                )
              }
            }
          }
        }
      }
    }
    #expect([stacked0, stacked1] == alone)
    #expect([stacked0, stacked1] != starts)
  }
}
