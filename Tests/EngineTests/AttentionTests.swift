import Engine
import Testing

@Suite struct AttentionTests {
  /// Causal attention over a cache of `past + T` rows, returning (out, att).
  static func causal(
    q: [Float],
    keys: [Float],
    values: [Float],
    past: Int,
    T: Int,
    NH: Int,
    NKV: Int,
    HS: Int,
    naive: Bool = false,
    pool: ThreadPool = .shared
  ) -> (out: [Float], att: [Float]) {
    var out = [Float](repeating: .nan, count: T * NH * HS)
    var att = [Float](repeating: .nan, count: NH * T * (past + T))
    if naive {
      CausalAttention.forwardNaive(
        out: &out,
        att: &att,
        q: q,
        keys: keys,
        values: values,
        past: past,
        T: T,
        NH: NH,
        NKV: NKV,
        HS: HS
      )
    } else {
      CausalAttention.forward(
        out: &out,
        att: &att,
        q: q,
        keys: keys,
        values: values,
        past: past,
        T: T,
        NH: NH,
        NKV: NKV,
        HS: HS,
        pool: pool
      )
    }
    return (out, att)
  }

  // T ≥ 8 takes the tiled sgemm path; T = 150 spans two tiles of query rows.
  @Test(arguments: [
    (0, 7, 6, 2, 5), (3, 4, 6, 3, 16), (10, 1, 4, 1, 8), (0, 5, 2, 2, 64), (0, 20, 4, 2, 16),
    (6, 150, 2, 1, 8), (2, 9, 3, 3, 64),
  ])
  func causalMatchesNaive(past: Int, T: Int, NH: Int, NKV: Int, HS: Int) {
    let L = past + T
    let q = randomFloats(T * NH * HS, seed: 1)
    let keys = randomFloats(L * NKV * HS, seed: 2)
    let values = randomFloats(L * NKV * HS, seed: 3)
    let fast = Self.causal(
      q: q,
      keys: keys,
      values: values,
      past: past,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS
    )
    let naive = Self.causal(
      q: q,
      keys: keys,
      values: values,
      past: past,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS,
      naive: true
    )
    expectClose(fast.out, naive.out)
    expectClose(fast.att, naive.att)
    for row in 0..<(NH * T) {
      let t = row % T
      let probabilities = fast.att[(row * L)..<((row + 1) * L)]
      #expect(abs(probabilities.reduce(0, +) - 1) < 1e-5)
      #expect(
        probabilities.dropFirst(past + t + 1).allSatisfy { $0 == 0 },
        "future weight in row \(row)"
      )
    }
  }

  @Test(arguments: [(1, 1, 4), (9, 3, 12), (17, 2, 64), (140, 2, 8)])
  func bidirectionalMatchesNaive(T: Int, NH: Int, HS: Int) {
    let q = randomFloats(T * NH * HS, seed: 4)
    let k = randomFloats(T * NH * HS, seed: 5)
    let v = randomFloats(T * NH * HS, seed: 6)
    var fast = [Float](repeating: .nan, count: T * NH * HS)
    var naive = fast
    var fastAtt = [Float](repeating: .nan, count: NH * T * T)
    var naiveAtt = fastAtt
    BidirectionalAttention.forward(
      out: &fast,
      att: &fastAtt,
      q: q,
      k: k,
      v: v,
      T: T,
      NH: NH,
      HS: HS
    )
    BidirectionalAttention.forwardNaive(
      out: &naive,
      att: &naiveAtt,
      q: q,
      k: k,
      v: v,
      T: T,
      NH: NH,
      HS: HS
    )
    expectClose(fast, naive)
    expectClose(fastAtt, naiveAtt)
  }

  /// Grouped-query attention equals full multi-head attention with each KV head repeated
  /// for its group (transformers' `repeat_kv`).
  @Test func groupedQueryEqualsRepeatedKV() {
    let (past, T, NH, NKV, HS) = (2, 5, 6, 2, 8)
    let L = past + T
    let q = randomFloats(T * NH * HS, seed: 7)
    let keys = randomFloats(L * NKV * HS, seed: 8)
    let values = randomFloats(L * NKV * HS, seed: 9)
    func repeated(_ cache: [Float]) -> [Float] {
      var result = [Float]()
      for s in 0..<L {
        for h in 0..<NH {
          let kvHead = h / (NH / NKV)
          result += cache[((s * NKV + kvHead) * HS)..<((s * NKV + kvHead + 1) * HS)]
        }
      }
      return result
    }
    let grouped = Self.causal(
      q: q,
      keys: keys,
      values: values,
      past: past,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS
    )
    let full = Self.causal(
      q: q,
      keys: repeated(keys),
      values: repeated(values),
      past: past,
      T: T,
      NH: NH,
      NKV: NH,
      HS: HS
    )
    expectClose(grouped.out, full.out, tolerance: 1e-6)
  }

  @Test func futureTokensDoNotChangeEarlierOutputs() {
    let (T, NH, NKV, HS) = (6, 4, 2, 8)
    let q = randomFloats(T * NH * HS, seed: 10)
    let keys = randomFloats(T * NKV * HS, seed: 11)
    let values = randomFloats(T * NKV * HS, seed: 12)
    var changedKeys = keys
    var changedValues = values
    let firstChanged = 4
    for i in (firstChanged * NKV * HS)..<(T * NKV * HS) {
      changedKeys[i] += 10
      changedValues[i] -= 10
    }
    let before = Self.causal(
      q: q,
      keys: keys,
      values: values,
      past: 0,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS
    )
    let after = Self.causal(
      q: q,
      keys: changedKeys,
      values: changedValues,
      past: 0,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS
    )
    let unaffected = firstChanged * NH * HS
    #expect(Array(before.out[..<unaffected]) == Array(after.out[..<unaffected]))
    #expect(Array(before.out[unaffected...]) != Array(after.out[unaffected...]))
  }

  /// Decoding chunk by chunk over a growing cache gives the same rows as one full pass.
  @Test func incrementalDecodeEqualsFullPass() {
    let (T, NH, NKV, HS) = (7, 4, 2, 16)
    let q = randomFloats(T * NH * HS, seed: 13)
    let keys = randomFloats(T * NKV * HS, seed: 14)
    let values = randomFloats(T * NKV * HS, seed: 15)
    let full = Self.causal(
      q: q,
      keys: keys,
      values: values,
      past: 0,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS
    )
    var incremental = [Float]()
    var past = 0
    for chunk in [3, 1, 1, 2] {
      let rows = (past * NH * HS)..<((past + chunk) * NH * HS)
      let cached = (past + chunk) * NKV * HS  // only the rows filled so far exist
      let step = Self.causal(
        q: Array(q[rows]),
        keys: Array(keys[..<cached]),
        values: Array(values[..<cached]),
        past: past,
        T: chunk,
        NH: NH,
        NKV: NKV,
        HS: HS
      )
      incremental += step.out
      past += chunk
    }
    expectClose(incremental, full.out, tolerance: 1e-6)
  }

  @Test func equalScoresAverageTheValues() {
    // A zero query scores every key equally: the output is the mean of the visible values.
    let (T, HS) = (3, 4)
    let q = [Float](repeating: 0, count: T * HS)
    let keys = randomFloats(T * HS, seed: 16)
    let values: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 30]
    let result = Self.causal(q: q, keys: keys, values: values, past: 0, T: T, NH: 1, NKV: 1, HS: HS)
    expectClose(result.out, [1, 2, 3, 4, 3, 4, 5, 6, 2, 8 / 3, 10 / 3, 14], tolerance: 1e-6)
  }

  @Test(arguments: [1, 3])
  func resultDoesNotDependOnThreadCount(threads: Int) {
    let (past, T, NH, NKV, HS) = (5, 3, 5, 5, 8)
    let L = past + T
    let q = randomFloats(T * NH * HS, seed: 17)
    let keys = randomFloats(L * NKV * HS, seed: 18)
    let values = randomFloats(L * NKV * HS, seed: 19)
    let single = Self.causal(
      q: q,
      keys: keys,
      values: values,
      past: past,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS,
      pool: ThreadPool(threadCount: 1)
    )
    let split = Self.causal(
      q: q,
      keys: keys,
      values: values,
      past: past,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS,
      pool: ThreadPool(threadCount: threads)
    )
    #expect(single.out == split.out)
  }
}
