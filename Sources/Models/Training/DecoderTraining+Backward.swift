import Checkpoints
// The decoder's backward, llm.c style: from the gradient of the final hidden states (what a
// head's backward returns) through the final norm and every layer in reverse, calling each
// kernel's backward. The base weights are frozen (`Matmul.backwardInput` only carries the
// gradient through them); every adapted linear adds its `LoRA.backward` (dA, dB into the
// `TrainableParameters` gradients, `+=`, so micro-batches accumulate; dIn onto the input's
// gradient). Per layer, with dy = ∂/∂stream(l+1):
//   down:  dSwiglu = dy·Wd (+LoRA)          SwiGLU: dGate, dUp
//   gate/up: dLn2 = dGate·Wg + dUp·Wu (+LoRA)  RMSNorm: dMid = dy + norm2ᵀ(dLn2)
//   o: dAttn = dMid·Wo (+LoRA)               attention: dq, dk, dv; RoPE⁻¹ on dq, dk
//   q/k/v: dLn1 = dq·Wq + dk·Wk + dv·Wv (+LoRA)  RMSNorm: dx = dMid + norm1ᵀ(dLn1)
// Layer 0 stops after its LoRA gradients (nothing below is trainable).
public import Engine

extension DecoderTraining {
  /// Adds the gradients of `Σ dHidden · hidden` (hidden = `acts`' final-norm output `(T, C)`)
  /// to every LoRA segment's gradients in `set`.
  public func backward(
    _ acts: borrowing TrainingActivations,
    dHidden: [Float],  // (T, C)
    parameters set: borrowing TrainableParameters
  ) {
    let s = shape(T: acts.T)
    let (T, C, L) = (s.T, s.C, config.numHiddenLayers)
    precondition(dHidden.count == T * C, "dHidden has \(dHidden.count) values, not T·C = \(T * C)")
    let scratch = BackwardScratch(s, recompute: !acts.keepsAttention)
    dHidden.withUnsafeBufferPointer {
      RMSNorm.backward(
        dIn: scratch.dy,
        dWeight: nil,
        dOut: $0.baseAddress!,
        in: acts.stream(L),
        weight: parameters.finalNorm,
        rstd: acts.rstdf,
        BT: T,
        C: C
      )
    }
    let positions = (0..<T).map { Int32($0) }
    for l in stride(from: L - 1, through: 0, by: -1) {
      layerBackward(l, acts: acts, positions: positions, set: set, scratch: scratch)
    }
  }

  /// Layer l's backward: `scratch.dy` holds ∂/∂stream(l+1) on entry and ∂/∂stream(l) on exit
  /// (for l > 0).
  func layerBackward(
    _ l: Int,
    acts: borrowing TrainingActivations,
    positions: [Int32],
    set: borrowing TrainableParameters,
    scratch d: borrowing BackwardScratch
  ) {
    let s = shape(T: acts.T)
    let (T, C, I) = (s.T, s.C, s.I)
    let p = parameters.layers[l]
    let a = acts.layer(l)
    let dropout = acts.dropout
    func linear(
      _ dIn: UnsafeMutablePointer<Float>?,
      _ dOut: UnsafePointer<Float>,
      _ input: UnsafePointer<Float>,
      _ which: DecoderLinear,
      N: Int,
      K: Int,
      accumulate: Bool = false
    ) {
      linearBackward(
        dIn: dIn,
        dOut: dOut,
        input: input,
        l,
        which,
        N: N,
        K: K,
        T: T,
        set: set,
        dropout: dropout,
        accumulate: accumulate,
        scratch: d.dTmp
      )
    }
    // MLP
    linear(d.dSwiglu, d.dy, a.swiglu, .down, N: C, K: I)
    SwiGLU.backward(
      dGate: d.dGate,
      dUp: d.dUp,
      dOut: d.dSwiglu,
      gate: a.gate,
      up: a.up,
      count: T * I
    )
    linear(d.dLn, d.dGate, a.ln2, .gate, N: I, K: C)
    linear(d.dLn, d.dUp, a.ln2, .up, N: I, K: C, accumulate: true)
    RMSNorm.backward(
      dIn: d.dMid,
      dWeight: nil,
      dOut: d.dLn,
      in: a.mid,
      weight: p.postNorm,
      rstd: a.rstd2,
      BT: T,
      C: C
    )
    Residual.forward(out: d.dMid, a: d.dMid, b: d.dy, count: T * C)
    // Attention
    linear(d.dAttn, d.dMid, a.attn, .o, N: C, K: s.q)
    var att = a.att
    if att == nil, let recomputed = d.att {
      attend(a, att: recomputed, shape: s)
      att = recomputed
    }
    CausalAttention.backward(
      dq: d.dq,
      dk: d.dk,
      dv: d.dv,
      dOut: d.dAttn,
      att: att!,
      q: a.q,
      k: a.k,
      v: a.v,
      T: T,
      NH: s.NH,
      NKV: s.NKV,
      HS: s.HS
    )
    positions.withUnsafeBufferPointer { pos in
      for (buffer, heads) in [(d.dq, s.NH), (d.dk, s.NKV)] {
        RoPE.backward(
          dX: buffer,
          positions: pos.baseAddress!,
          T: T,
          NH: heads,
          HS: s.HS,
          theta: s.theta,
          scalingFactor: s.ropeFactor
        )
      }
    }
    let needsInput = l > 0
    linear(needsInput ? d.dLn : nil, d.dq, a.ln1, .q, N: s.q, K: C)
    linear(needsInput ? d.dLn : nil, d.dk, a.ln1, .k, N: s.kv, K: C, accumulate: true)
    linear(needsInput ? d.dLn : nil, d.dv, a.ln1, .v, N: s.kv, K: C, accumulate: true)
    guard needsInput else { return }
    RMSNorm.backward(
      dIn: d.dy,
      dWeight: nil,
      dOut: d.dLn,
      in: acts.stream(l),
      weight: p.inputNorm,
      rstd: a.rstd1,
      BT: T,
      C: C
    )
    Residual.forward(out: d.dy, a: d.dy, b: d.dMid, count: T * C)
  }

  /// The backward of `linearForward`: `dIn (T, K) = dOut · W` (overwritten, or added when
  /// `accumulate`; nil: not needed), then the LoRA pair's dA, dB (+=) and its share of dIn.
  func linearBackward(
    dIn: UnsafeMutablePointer<Float>?,  // (T, K)
    dOut: UnsafePointer<Float>,  // (T, N)
    input: UnsafePointer<Float>,  // (T, K) the forward's (undropped) input
    _ l: Int,
    _ which: DecoderLinear,
    N: Int,
    K: Int,
    T: Int,
    set: borrowing TrainableParameters,
    dropout: LoRADropout?,
    accumulate: Bool,
    scratch: UnsafeMutablePointer<Float>  // (T, max(C, I, q)) at least T·K
  ) {
    if let dIn {
      let target = accumulate ? scratch : dIn
      if let transposed = transposed?.view(l, which) {
        // dIn(T, K) = dOut(T, N) · W(N, K) = dOut · (Wᵀ)ᵀ, a forward product over Wᵀ (K, N)
        Matmul.forward(out: target, in: dOut, weight: transposed, bias: nil, M: T, N: K, K: N)
      } else {
        Matmul.backwardInput(
          dIn: target,
          dOut: dOut,
          weight: parameters.layers[l][which].weight,
          M: T,
          N: N,
          K: K
        )
      }
      if accumulate { Residual.forward(out: dIn, a: dIn, b: scratch, count: T * K) }
    }
    guard let segments = trainables.segments(layer: l, which) else { return }
    let rows = (0..<T).map { Int32($0) }
    let (a, b) = (set.parameters(segments.a), set.parameters(segments.b))
    let (dA, dB) = (set.gradients(segments.a), set.gradients(segments.b))
    let scale = trainables.settings.scale
    rows.withUnsafeBufferPointer { rows in
      guard let dropout else {
        LoRA.backward(
          dA: dA,
          dB: dB,
          dIn: dIn,
          dOut: dOut,
          in: input,
          rows: rows,
          a: a,
          b: b,
          scale: scale,
          N: N,
          K: K,
          r: segments.rank
        )
        return
      }
      withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * T * K) { buffer in
        let (mask, dropped) = (buffer.baseAddress!, buffer.baseAddress! + T * K)
        dropout.apply(layer: l, linear: which, x: input, mask: mask, dropped: dropped, T: T, K: K)
        LoRA.backward(
          dA: dA,
          dB: dB,
          dIn: dIn,
          dOut: dOut,
          in: dropped,
          rows: rows,
          a: a,
          b: b,
          scale: scale,
          N: N,
          K: K,
          r: segments.rank,
          dropoutMask: mask
        )
      }
    }
  }
}

/// The backward's activation gradients for one layer at a time (reused across layers).
struct BackwardScratch: ~Copyable {
  let storage: Tensor
  let dy, dMid, dLn, dTmp, dSwiglu, dGate, dUp, dAttn, dq, dk, dv: UnsafeMutablePointer<Float>
  /// `(NH, T, T)` for recomputing a layer's attention probabilities, when not kept.
  let att: UnsafeMutablePointer<Float>?

  init(_ s: DecoderTraining.LayerShape, recompute: Bool) {
    let T = s.T
    let wide = max(s.C, s.I, s.q)
    let sizes = [
      T * s.C, T * s.C, T * s.C, T * wide, T * s.I, T * s.I, T * s.I, T * s.q, T * s.q, T * s.kv,
      T * s.kv,
    ]
    var layout = ArenaLayout()
    let offsets = sizes.map { layout.add($0) }
    let attOffset = layout.add(recompute ? s.NH * T * T : 0)
    storage = Tensor(shape: [max(layout.count, 1)])
    let p = storage.data
    (dy, dMid, dLn, dTmp) = (p + offsets[0], p + offsets[1], p + offsets[2], p + offsets[3])
    (dSwiglu, dGate, dUp, dAttn) = (p + offsets[4], p + offsets[5], p + offsets[6], p + offsets[7])
    (dq, dk, dv) = (p + offsets[8], p + offsets[9], p + offsets[10])
    att = recompute ? p + attOffset : nil
  }
}
