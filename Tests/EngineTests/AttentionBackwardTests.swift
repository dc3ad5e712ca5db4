import Engine
import Testing

@Suite struct AttentionBackwardTests {
  /// (T, NH, NKV, HS): GQA (2 query heads per KV head), multi-head (NH = NKV), multi-query
  /// (one KV head), and T ≥ 8, where the forward takes its tiled sgemm path.
  static let shapes: [(T: Int, NH: Int, NKV: Int, HS: Int)] = [
    (5, 4, 2, 8), (5, 3, 3, 4), (4, 4, 1, 6), (9, 4, 2, 8),
  ]

  static func forward(
    q: [Float],
    k: [Float],
    v: [Float],
    T: Int,
    NH: Int,
    NKV: Int,
    HS: Int
  ) -> (out: [Float], att: [Float]) {
    var out = [Float](repeating: 0, count: T * NH * HS)
    var att = [Float](repeating: 0, count: NH * T * T)
    CausalAttention.forward(
      out: &out,
      att: &att,
      q: q,
      keys: k,
      values: v,
      past: 0,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS
    )
    return (out, att)
  }

  @Test(arguments: shapes.indices)
  func gradientsMatchFiniteDifferences(index: Int) {
    let (T, NH, NKV, HS) = Self.shapes[index]
    var q = randomFloats(T * NH * HS, seed: 1)
    var k = randomFloats(T * NKV * HS, seed: 2)
    var v = randomFloats(T * NKV * HS, seed: 3)
    let upstream = randomFloats(T * NH * HS, seed: 4)
    func loss(_ q: [Float], _ k: [Float], _ v: [Float]) -> Double {
      weightedSum(Self.forward(q: q, k: k, v: v, T: T, NH: NH, NKV: NKV, HS: HS).out, upstream)
    }
    let att = Self.forward(q: q, k: k, v: v, T: T, NH: NH, NKV: NKV, HS: HS).att
    // Overwritten: start from garbage.
    var dq = randomFloats(T * NH * HS, seed: 5)
    var dk = randomFloats(T * NKV * HS, seed: 6)
    var dv = randomFloats(T * NKV * HS, seed: 7)
    CausalAttention.backward(
      dq: &dq,
      dk: &dk,
      dv: &dv,
      dOut: upstream,
      att: att,
      q: q,
      k: k,
      v: v,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS
    )
    let numericalQ = numericalGradient(of: &q, step: 1e-2) { loss($0, k, v) }
    let numericalK = numericalGradient(of: &k, step: 1e-2) { loss(q, $0, v) }
    let numericalV = numericalGradient(of: &v, step: 1e-2) { loss(q, k, $0) }
    expectGradient(dq, numericalQ, absolute: 1e-3, relative: 1e-2)
    expectGradient(dk, numericalK, absolute: 1e-3, relative: 1e-2)
    expectGradient(dv, numericalV, absolute: 1e-3, relative: 1e-2)
  }

  /// The sgemm path equals the Double loops, over the forward's own `att` (both paths).
  @Test(arguments: [(5, 4, 2, 8), (9, 4, 2, 8), (37, 6, 2, 16), (130, 4, 1, 8), (300, 2, 1, 16)])
  func fastMatchesNaive(T: Int, NH: Int, NKV: Int, HS: Int) {
    let q = randomFloats(T * NH * HS, seed: 11)
    let k = randomFloats(T * NKV * HS, seed: 12)
    let v = randomFloats(T * NKV * HS, seed: 13)
    let dOut = randomFloats(T * NH * HS, seed: 14)
    let att = Self.forward(q: q, k: k, v: v, T: T, NH: NH, NKV: NKV, HS: HS).att
    var fast = (
      randomFloats(T * NH * HS, seed: 15), randomFloats(T * NKV * HS, seed: 16),
      randomFloats(T * NKV * HS, seed: 17)
    )
    var naive = fast
    CausalAttention.backward(
      dq: &fast.0,
      dk: &fast.1,
      dv: &fast.2,
      dOut: dOut,
      att: att,
      q: q,
      k: k,
      v: v,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS
    )
    CausalAttention.backwardNaive(
      dq: &naive.0,
      dk: &naive.1,
      dv: &naive.2,
      dOut: dOut,
      att: att,
      q: q,
      k: k,
      v: v,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS
    )
    expectClose(fast.0, naive.0, tolerance: 1e-5, "dq T \(T)")
    expectClose(fast.1, naive.1, tolerance: 1e-5, "dk T \(T)")
    expectClose(fast.2, naive.2, tolerance: 1e-5, "dv T \(T)")
  }

  /// GQA equals multi-head attention with each KV head repeated (`repeat_kv`), whose KV
  /// gradients are then summed over the group.
  @Test func groupedEqualsRepeatedHeads() {
    let (T, NH, NKV, HS) = (6, 4, 2, 8)
    let group = NH / NKV
    let q = randomFloats(T * NH * HS, seed: 21)
    let k = randomFloats(T * NKV * HS, seed: 22)
    let v = randomFloats(T * NKV * HS, seed: 23)
    let dOut = randomFloats(T * NH * HS, seed: 24)
    func repeated(_ x: [Float]) -> [Float] {
      var result: [Float] = []
      for t in 0..<T {
        for h in 0..<NH {
          let start = (t * NKV + h / group) * HS
          result += x[start..<(start + HS)]
        }
      }
      return result
    }
    let (kr, vr) = (repeated(k), repeated(v))
    let att = Self.forward(q: q, k: k, v: v, T: T, NH: NH, NKV: NKV, HS: HS).att
    let attMHA = Self.forward(q: q, k: kr, v: vr, T: T, NH: NH, NKV: NH, HS: HS).att
    expectClose(att, attMHA, tolerance: 1e-6)
    var gqa = (
      [Float](repeating: 0, count: T * NH * HS), [Float](repeating: 0, count: T * NKV * HS)
    )
    var dvGQA = [Float](repeating: 0, count: T * NKV * HS)
    CausalAttention.backward(
      dq: &gqa.0,
      dk: &gqa.1,
      dv: &dvGQA,
      dOut: dOut,
      att: att,
      q: q,
      k: k,
      v: v,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS
    )
    var (mhaQ, mhaK, mhaV) = (
      [Float](repeating: 0, count: T * NH * HS), [Float](repeating: 0, count: T * NH * HS),
      [Float](repeating: 0, count: T * NH * HS)
    )
    CausalAttention.backward(
      dq: &mhaQ,
      dk: &mhaK,
      dv: &mhaV,
      dOut: dOut,
      att: attMHA,
      q: q,
      k: kr,
      v: vr,
      T: T,
      NH: NH,
      NKV: NH,
      HS: HS
    )
    var (dkSum, dvSum) = (
      [Float](repeating: 0, count: T * NKV * HS), [Float](repeating: 0, count: T * NKV * HS)
    )
    for t in 0..<T {
      for h in 0..<NH {
        for i in 0..<HS {
          dkSum[(t * NKV + h / group) * HS + i] += mhaK[(t * NH + h) * HS + i]
          dvSum[(t * NKV + h / group) * HS + i] += mhaV[(t * NH + h) * HS + i]
        }
      }
    }
    expectClose(gqa.0, mhaQ, tolerance: 1e-5)
    expectClose(gqa.1, dkSum, tolerance: 1e-5)
    expectClose(dvGQA, dvSum, tolerance: 1e-5)
  }
}
