// LLaVA's multi-modal projector: linear_1 → activation (projector_hidden_act) → linear_2.
// `N` feature rows, `VC` vision hidden size, `H` language hidden size.
import Checkpoints
import Engine

/// Maps vision features `(N, VC)` to language-model embeddings `(N, H)`.
public struct Projector: Sendable {
  public let weights: LlavaWeights

  public init(weights: LlavaWeights) { self.weights = weights }

  public func forward(features: [Float]) -> [Float] {
    let (w, p) = (weights, weights.projector)
    let (VC, H) = (w.config.vision.hiddenSize, w.config.text.hiddenSize)
    let N = features.count / VC
    precondition(N * VC == features.count, "features are not rows of \(VC)")
    let hidden = Tensor(shape: [N, H])  // (N, H) linear_1 output
    let activated = Tensor(shape: [N, H])  // (N, H)
    let out = Tensor(shape: [N, H])  // (N, H)
    features.withUnsafeBufferPointer { input in
      Matmul.forward(
        out: hidden.data,
        in: input.baseAddress!,
        weight: p.linear1.weight,
        bias: p.linear1.bias,
        M: N,
        N: H,
        K: VC
      )
    }
    switch w.config.projectorHiddenAct {
    case "quick_gelu": QuickGELU.forward(out: activated.data, in: hidden.data, count: N * H)
    case "silu": SiLU.forward(out: activated.data, in: hidden.data, count: N * H)
    default: GELU.forward(out: activated.data, in: hidden.data, count: N * H)
    }
    Matmul.forward(
      out: out.data,
      in: activated.data,
      weight: p.linear2.weight,
      bias: p.linear2.bias,
      M: N,
      N: H,
      K: H
    )
    return out.toArray()
  }
}
