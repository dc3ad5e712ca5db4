// The CLIP vision tower (pre-LN ViT) up to the hidden state LLaVA selects, llm.c style: one
// activation allocation, a straight-line forward. Shapes: `NP` patches, `T` = NP + 1 tokens
// (class token first), `C` vision hidden size, `VI` MLP size, `NH` heads, `HS` head size,
// `PP` = 3·P·P values per patch.
import Checkpoints
import Engine

/// The vision tower of a LLaVA model, run up to `LlavaConfig.visionLayersUsed` layers.
public struct VisionTower: Sendable {
  public let weights: LlavaWeights
  /// Encoder layers run: hidden state `layers` is the one selected.
  public let layers: Int
  let config: CLIPVisionConfig

  public init(weights: LlavaWeights) {
    self.weights = weights
    self.layers = weights.config.visionLayersUsed
    self.config = weights.config.vision
  }

  /// Floats of pixel values one image needs: (3, S, S).
  public var pixelCount: Int { config.numChannels * config.imageSize * config.imageSize }
  /// Tokens of every hidden state: the class token and the patches.
  public var tokenCount: Int { config.positionCount }

  /// Hidden states 0 ... `layers`, each `(T, C)` (0 = after `pre_layrnorm`).
  public func hiddenStates(pixels: [Float]) throws(ModelError) -> [[Float]] {
    guard pixels.count == pixelCount else {
      throw .pixelCountMismatch(expected: pixelCount, actual: pixels.count)
    }
    let acts = VisionActivations(config: config, layers: layers, keepAllLayers: false)
    pixels.withUnsafeBufferPointer { forward(pixels: $0.baseAddress!, acts: acts) }
    let size = tokenCount * config.hiddenSize
    return (0...layers).map { Array(UnsafeBufferPointer(start: acts.state($0), count: size)) }
  }

  /// The selected features, `(N, C)`: hidden state `layers` without the class token
  /// (strategy "default") or with it ("full").
  public func features(pixels: [Float]) throws(ModelError) -> [Float] {
    let last = try hiddenStates(pixels: pixels)[layers]
    let drop = weights.config.visionFeatureSelectStrategy == .default ? config.hiddenSize : 0
    return Array(last[drop...])
  }

  /// The forward pass into `acts`.
  func forward(pixels: UnsafePointer<Float>, acts: borrowing VisionActivations) {
    let w = weights.vision
    let (C, VI, NH) = (config.hiddenSize, config.intermediateSize, config.numAttentionHeads)
    let (P, side, NP) = (config.patchSize, config.patchesPerSide, config.patchCount)
    let (T, HS, PP, S) = (NP + 1, C / NH, config.numChannels * P * P, config.imageSize)
    let eps = Float(config.layerNormEps)
    // Unfold the image into patches (NP, PP): the conv becomes a matmul.
    let patches = acts.patches  // (NP, PP)
    for py in 0..<side {
      for px in 0..<side {
        var out = patches + (py * side + px) * PP
        for c in 0..<config.numChannels {
          for i in 0..<P {
            let row = pixels + (c * S + py * P + i) * S + px * P
            out.update(from: row, count: P)
            out += P
          }
        }
      }
    }
    let embeddings = acts.embeddings  // (T, C)
    embeddings.update(from: w.classEmbedding, count: C)
    Matmul.forward(
      out: embeddings + C,
      in: patches,
      weight: w.patchEmbedding,
      bias: nil,
      M: NP,
      N: C,
      K: PP
    )
    Residual.forward(
      out: embeddings,
      a: embeddings,
      b: w.positionEmbedding,
      count: T * C
    )
    LayerNorm.forward(
      out: acts.state(0),
      mean: acts.preMean,
      rstd: acts.preRstd,
      in: embeddings,
      weight: w.preNorm.weight,
      bias: w.preNorm.bias,
      eps: eps,
      BT: T,
      C: C
    )
    for l in 0..<layers {
      let p = w.layers[l]
      let a = acts.layer(l)
      let (x, y) = (acts.state(l), acts.state(l + 1))  // (T, C): stream in, stream out
      func linear(
        _ out: UnsafeMutablePointer<Float>,
        _ input: UnsafePointer<Float>,
        _ linear: LinearParameters,
        _ N: Int,
        _ K: Int,
        accumulate: Bool = false
      ) {
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
      }
      LayerNorm.forward(
        out: a.ln1,
        mean: a.mean1,
        rstd: a.rstd1,
        in: x,
        weight: p.norm1.weight,
        bias: p.norm1.bias,
        eps: eps,
        BT: T,
        C: C
      )
      linear(a.q, a.ln1, p.q, C, C)  // (T, NH, HS)
      linear(a.k, a.ln1, p.k, C, C)  // (T, NH, HS)
      linear(a.v, a.ln1, p.v, C, C)  // (T, NH, HS)
      BidirectionalAttention.forward(
        out: a.attn,
        att: nil,
        q: a.q,
        k: a.k,
        v: a.v,
        T: T,
        NH: NH,
        HS: HS,
        precision: weights.precision
      )
      y.update(from: x, count: T * C)
      linear(y, a.attn, p.out, C, C, accumulate: true)  // y = x + attn · Wo
      LayerNorm.forward(
        out: a.ln2,
        mean: a.mean2,
        rstd: a.rstd2,
        in: y,
        weight: p.norm2.weight,
        bias: p.norm2.bias,
        eps: eps,
        BT: T,
        C: C
      )
      linear(a.fc1, a.ln2, p.fc1, VI, C)  // (T, VI)
      if config.hiddenAct == "gelu" {
        GELU.forward(out: a.act, in: a.fc1, count: T * VI)
      } else {
        QuickGELU.forward(out: a.act, in: a.fc1, count: T * VI)
      }
      linear(y, a.act, p.fc2, C, VI, accumulate: true)  // y += mlp
    }
  }
}
