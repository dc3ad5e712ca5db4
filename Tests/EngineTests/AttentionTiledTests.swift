import Engine
import Testing

/// The tiled sgemm path (T ≥ 8) without `att` writes its probabilities to scratch instead;
/// the outputs must not change.
@Suite struct AttentionTiledTests {
  @Test(arguments: [(0, 12), (7, 200)])
  func causalWithoutProbabilitiesMatches(past: Int, T: Int) {
    let (NH, NKV, HS) = (4, 2, 16)
    let L = past + T
    let q = randomFloats(T * NH * HS, seed: 31)
    let keys = randomFloats(L * NKV * HS, seed: 32)
    let values = randomFloats(L * NKV * HS, seed: 33)
    var out = [Float](repeating: .nan, count: T * NH * HS)
    var naive = out
    CausalAttention.forward(
      out: &out,
      att: nil,
      q: q,
      keys: keys,
      values: values,
      past: past,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS
    )
    CausalAttention.forwardNaive(
      out: &naive,
      att: nil,
      q: q,
      keys: keys,
      values: values,
      past: past,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS
    )
    expectClose(out, naive)
  }

  @Test func bidirectionalWithoutProbabilitiesMatches() {
    let (T, NH, HS) = (130, 3, 8)
    let q = randomFloats(T * NH * HS, seed: 34)
    let k = randomFloats(T * NH * HS, seed: 35)
    let v = randomFloats(T * NH * HS, seed: 36)
    var out = [Float](repeating: .nan, count: T * NH * HS)
    var naive = out
    BidirectionalAttention.forward(out: &out, att: nil, q: q, k: k, v: v, T: T, NH: NH, HS: HS)
    BidirectionalAttention.forwardNaive(
      out: &naive,
      att: nil,
      q: q,
      k: k,
      v: v,
      T: T,
      NH: NH,
      HS: HS
    )
    expectClose(out, naive)
  }

  /// Large score differences: the softmax's exp must underflow cleanly to 0, not NaN.
  @Test func extremeScoresStayFinite() {
    let (T, NH, HS) = (16, 1, 4)
    let q = (0..<(T * HS)).map { Float($0 % 7) * 40 - 100 }
    let k = (0..<(T * HS)).map { Float($0 % 5) * 30 - 60 }
    let v = randomFloats(T * HS, seed: 37)
    var out = [Float](repeating: .nan, count: T * HS)
    var naive = out
    BidirectionalAttention.forward(out: &out, att: nil, q: q, k: k, v: v, T: T, NH: NH, HS: HS)
    BidirectionalAttention.forwardNaive(
      out: &naive,
      att: nil,
      q: q,
      k: k,
      v: v,
      T: T,
      NH: NH,
      HS: HS
    )
    #expect(out.allSatisfy { $0.isFinite })
    expectClose(out, naive)
  }
}
