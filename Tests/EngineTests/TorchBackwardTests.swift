import Engine
import Testing

/// The backward kernels against torch autograd in float64 (transformers' attention with
/// repeat_kv, PEFT's LoRA linear): `tools/reference/make_backward_fixtures.py`.
@Suite struct TorchBackwardTests {
  @Test func attentionMatchesTorch() {
    typealias F = TorchAttentionBackwardFixture
    var out = [Float](repeating: 0, count: F.q.count)
    var att = [Float](repeating: 0, count: F.NH * F.T * F.T)
    CausalAttention.forward(
      out: &out,
      att: &att,
      q: F.q,
      keys: F.k,
      values: F.v,
      past: 0,
      T: F.T,
      NH: F.NH,
      NKV: F.NKV,
      HS: F.HS
    )
    expectClose(out, F.out, tolerance: 1e-6)
    var (dq, dk, dv) = (
      [Float](repeating: 0, count: F.q.count), [Float](repeating: 0, count: F.k.count),
      [Float](repeating: 0, count: F.v.count)
    )
    CausalAttention.backward(
      dq: &dq,
      dk: &dk,
      dv: &dv,
      dOut: F.dOut,
      att: att,
      q: F.q,
      k: F.k,
      v: F.v,
      T: F.T,
      NH: F.NH,
      NKV: F.NKV,
      HS: F.HS
    )
    expectClose(dq, F.dq, tolerance: 1e-5, "dq \(relativeError(dq, F.dq))")
    expectClose(dk, F.dk, tolerance: 1e-5, "dk \(relativeError(dk, F.dk))")
    expectClose(dv, F.dv, tolerance: 1e-5, "dv \(relativeError(dv, F.dv))")
  }

  @Test func loraMatchesTorch() {
    typealias F = TorchLoRABackwardFixture
    var dA = [Float](repeating: 0, count: F.a.count)
    var dB = [Float](repeating: 0, count: F.b.count)
    var dX = [Float](repeating: 0, count: F.x.count)
    F.rows.withUnsafeBufferPointer { rows in
      LoRA.backward(
        dA: &dA,
        dB: &dB,
        dIn: &dX,
        dOut: F.dOut,
        in: F.x,
        rows: rows,
        a: F.a,
        b: F.b,
        scale: F.scale,
        N: F.N,
        K: F.K,
        r: F.r
      )
    }
    expectClose(dA, F.dA, tolerance: 1e-5, "dA \(relativeError(dA, F.dA))")
    expectClose(dB, F.dB, tolerance: 1e-5, "dB \(relativeError(dB, F.dB))")
    expectClose(dX, F.dX, tolerance: 1e-5, "dX \(relativeError(dX, F.dX))")
  }
}
