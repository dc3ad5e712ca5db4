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
}
