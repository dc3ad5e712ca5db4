import Checkpoints
// One decoder layer's training forward, as the serving `layerForward` computes it (RMSNorm →
// q/k/v → RoPE → causal GQA attention → o_proj → residual, RMSNorm → SwiGLU MLP → residual) but
// over the whole sequence with nothing overwritten: the mid-layer residual has its own buffer
// and attention writes its probabilities into `att` (when kept). Each adapted linear adds
// `scale · lora_B(lora_A(dropout(x)))` on top of the frozen base product.
public import Engine

extension DecoderTraining {
  /// The shapes every layer shares.
  struct LayerShape {
    let C, I, NH, NKV, HS, T: Int
    let eps, theta, ropeFactor: Float
    var q: Int { NH * HS }
    var kv: Int { NKV * HS }
  }

  func shape(T: Int) -> LayerShape {
    return LayerShape(
      C: config.hiddenSize,
      I: config.intermediateSize,
      NH: config.numAttentionHeads,
      NKV: config.numKeyValueHeads,
      HS: config.headDim,
      T: T,
      eps: Float(config.rmsNormEps),
      theta: Float(config.rope.theta),
      ropeFactor: config.ropeScalingFactor
    )
  }

  /// `out (T, N) = in · Wᵀ` (+= when `accumulate`) plus layer l's LoRA delta for `which`.
  func linearForward(
    _ out: UnsafeMutablePointer<Float>,  // (T, N)
    _ input: UnsafePointer<Float>,  // (T, K)
    _ l: Int,
    _ which: DecoderLinear,
    N: Int,
    K: Int,
    T: Int,
    set: borrowing TrainableParameters,
    dropout: LoRADropout?,
    accumulate: Bool = false
  ) {
    let linear = parameters.layers[l][which]
    Matmul.forward(
      out: out,
      in: input,
      weight: linear.weight,
      bias: linear.bias,
      M: T,
      N: N,
      K: K,
      accumulate: accumulate
    )
    guard let lora = lora(set, l, which) else { return }
    let rows = (0..<T).map { Int32($0) }
    rows.withUnsafeBufferPointer { rows in
      guard let dropout else {
        LoRA.forward(out: out, in: input, rows: rows, lora: lora, N: N, K: K)
        return
      }
      withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * T * K) { scratch in
        let (mask, dropped) = (scratch.baseAddress!, scratch.baseAddress! + T * K)
        dropout.apply(layer: l, linear: which, x: input, mask: mask, dropped: dropped, T: T, K: K)
        LoRA.forward(out: out, in: dropped, rows: rows, lora: lora, N: N, K: K)
      }
    }
  }

  /// Layer `l`: stream l in, stream l + 1 out, every intermediate kept in `acts.layer(l)`.
  func layerForward(
    _ l: Int,
    acts: borrowing TrainingActivations,
    positions: [Int32],  // (T)
    set: borrowing TrainableParameters
  ) {
    let s = shape(T: acts.T)
    let (T, C, I) = (s.T, s.C, s.I)
    let p = parameters.layers[l]
    let a = acts.layer(l)
    let (x, y) = (acts.stream(l), acts.stream(l + 1))  // (T, C)
    let dropout = acts.dropout
    RMSNorm.forward(out: a.ln1, rstd: a.rstd1, in: x, weight: p.inputNorm, eps: s.eps, BT: T, C: C)
    linearForward(a.q, a.ln1, l, .q, N: s.q, K: C, T: T, set: set, dropout: dropout)
    linearForward(a.k, a.ln1, l, .k, N: s.kv, K: C, T: T, set: set, dropout: dropout)
    linearForward(a.v, a.ln1, l, .v, N: s.kv, K: C, T: T, set: set, dropout: dropout)
    positions.withUnsafeBufferPointer { pos in
      for (buffer, heads) in [(a.q, s.NH), (a.k, s.NKV)] {
        RoPE.forward(
          x: buffer,
          positions: pos.baseAddress!,
          T: T,
          NH: heads,
          HS: s.HS,
          theta: s.theta,
          scalingFactor: s.ropeFactor
        )
      }
    }
    attend(a, att: a.att, shape: s)
    a.mid.update(from: x, count: T * C)
    linearForward(
      a.mid,
      a.attn,
      l,
      .o,
      N: C,
      K: s.q,
      T: T,
      set: set,
      dropout: dropout,
      accumulate: true
    )
    RMSNorm.forward(
      out: a.ln2,
      rstd: a.rstd2,
      in: a.mid,
      weight: p.postNorm,
      eps: s.eps,
      BT: T,
      C: C
    )
    linearForward(a.gate, a.ln2, l, .gate, N: I, K: C, T: T, set: set, dropout: dropout)
    linearForward(a.up, a.ln2, l, .up, N: I, K: C, T: T, set: set, dropout: dropout)
    SwiGLU.forward(out: a.swiglu, gate: a.gate, up: a.up, count: T * I)
    y.update(from: a.mid, count: T * C)
    linearForward(
      y,
      a.swiglu,
      l,
      .down,
      N: C,
      K: I,
      T: T,
      set: set,
      dropout: dropout,
      accumulate: true
    )
  }

  /// Causal attention over the layer's own q, k, v (past = 0: the keys are the sequence's),
  /// writing `attn` and, when given, the probabilities into `att (NH, T, T)`.
  func attend(
    _ a: TrainingActivations.Layer,
    att: UnsafeMutablePointer<Float>?,
    shape s: LayerShape
  ) {
    CausalAttention.forward(
      out: a.attn,
      att: att,
      q: a.q,
      keys: a.k,
      values: a.v,
      past: 0,
      T: s.T,
      NH: s.NH,
      NKV: s.NKV,
      HS: s.HS
    )
  }
}
