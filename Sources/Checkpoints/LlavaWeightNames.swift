// Canonical tensor names for the model code, and the tensors (with shapes) a config implies.
// Names follow transformers' module paths below each part (`self_attn.q_proj.weight`, CLIP's
// `pre_layrnorm` spelling included); `LlavaLayout` maps them to a checkpoint's spelling.
// Shapes are PyTorch's: a Linear weight is (out_features, in_features), row-major.

/// Which head sits on the language model.
public enum LlavaHead: Sendable, Equatable {
  /// `lm_head.weight` (V, H) (or the tied embedding): a generative policy.
  case languageModel
  /// `score.weight` (1, H) on the final hidden state: a reward model.
  case reward
}

/// A tensor a config implies.
public struct ExpectedTensor: Sendable, Equatable {
  /// Canonical name.
  public var name: String
  /// Required shape; nil for buffers whose shape and dtype are not checked.
  public var shape: [Int]?
  /// Whether loading fails without it. Optional tensors are allowed and unused (vision layers
  /// past the selected feature layer, post_layernorm, position_ids and rotary buffers, a tied or
  /// reward model's lm_head).
  public var required: Bool
  /// An optional tensor the model reads when present (`score.bias`): shape-checked and loaded,
  /// not reported unused.
  public var usedWhenPresent = false
}

/// Canonical tensor names of a LLaVA model.
public enum LlavaWeightNames {
  public static let embedTokens = "text.embed_tokens.weight"
  public static let finalNorm = "text.norm.weight"
  public static let lmHead = "lm_head.weight"
  public static let score = "score.weight"
  /// `score.bias` (1): optional; LLaVA-RLHF's reward head (a Linear with bias) has one.
  public static let scoreBias = "score.bias"
  public static let patchEmbedding = "vision.embeddings.patch_embedding.weight"
  public static let classEmbedding = "vision.embeddings.class_embedding"
  public static let positionEmbedding = "vision.embeddings.position_embedding.weight"
  public static let preLayerNormWeight = "vision.pre_layrnorm.weight"
  public static let preLayerNormBias = "vision.pre_layrnorm.bias"
  public static let postLayerNormWeight = "vision.post_layernorm.weight"
  public static let postLayerNormBias = "vision.post_layernorm.bias"
  public static let projector1Weight = "projector.linear_1.weight"
  public static let projector1Bias = "projector.linear_1.bias"
  public static let projector2Weight = "projector.linear_2.weight"
  public static let projector2Bias = "projector.linear_2.bias"

  /// One Llama decoder layer. Bias names exist only with `attention_bias` / `mlp_bias`.
  public struct TextLayer: Sendable, Equatable {
    public let prefix: String
    public var qProj: String { prefix + "self_attn.q_proj.weight" }
    public var kProj: String { prefix + "self_attn.k_proj.weight" }
    public var vProj: String { prefix + "self_attn.v_proj.weight" }
    public var oProj: String { prefix + "self_attn.o_proj.weight" }
    public var gateProj: String { prefix + "mlp.gate_proj.weight" }
    public var upProj: String { prefix + "mlp.up_proj.weight" }
    public var downProj: String { prefix + "mlp.down_proj.weight" }
    public var inputLayerNorm: String { prefix + "input_layernorm.weight" }
    public var postAttentionLayerNorm: String { prefix + "post_attention_layernorm.weight" }
    public func bias(of weight: String) -> String {
      String(weight.dropLast("weight".count)) + "bias"
    }
  }

  /// One CLIP encoder layer (every Linear and LayerNorm has a bias).
  public struct VisionLayer: Sendable, Equatable {
    public let prefix: String
    public var qProj: String { prefix + "self_attn.q_proj.weight" }
    public var kProj: String { prefix + "self_attn.k_proj.weight" }
    public var vProj: String { prefix + "self_attn.v_proj.weight" }
    public var outProj: String { prefix + "self_attn.out_proj.weight" }
    public var layerNorm1: String { prefix + "layer_norm1.weight" }
    public var layerNorm2: String { prefix + "layer_norm2.weight" }
    public var fc1: String { prefix + "mlp.fc1.weight" }
    public var fc2: String { prefix + "mlp.fc2.weight" }
    public func bias(of weight: String) -> String {
      String(weight.dropLast("weight".count)) + "bias"
    }
  }

  public static func textLayer(_ index: Int) -> TextLayer {
    TextLayer(prefix: "text.layers.\(index).")
  }

  public static func visionLayer(_ index: Int) -> VisionLayer {
    VisionLayer(prefix: "vision.encoder.layers.\(index).")
  }

  /// Every tensor the config implies for `head`, in a stable order.
  public static func expected(for config: LlavaConfig, head: LlavaHead) -> [ExpectedTensor] {
    let t = config.text
    var list: [ExpectedTensor] = []
    func add(_ name: String, _ shape: [Int]?, required: Bool = true) {
      list.append(ExpectedTensor(name: name, shape: shape, required: required))
    }
    let (H, V, I) = (t.hiddenSize, t.vocabSize, t.intermediateSize)
    let (q, kv) = (t.numAttentionHeads * t.headDim, t.numKeyValueHeads * t.headDim)
    add(embedTokens, [V, H])
    for index in 0..<t.numHiddenLayers {
      let layer = textLayer(index)
      let linears = [
        (layer.qProj, q, H, t.attentionBias), (layer.kProj, kv, H, t.attentionBias),
        (layer.vProj, kv, H, t.attentionBias), (layer.oProj, H, q, t.attentionBias),
        (layer.gateProj, I, H, t.mlpBias), (layer.upProj, I, H, t.mlpBias),
        (layer.downProj, H, I, t.mlpBias),
      ]
      for (name, out, input, hasBias) in linears {
        add(name, [out, input])
        if hasBias { add(layer.bias(of: name), [out]) }
      }
      add(layer.inputLayerNorm, [H])
      add(layer.postAttentionLayerNorm, [H])
      add(layer.prefix + "self_attn.rotary_emb.inv_freq", nil, required: false)
    }
    add(finalNorm, [H])
    add(lmHead, [V, H], required: head == .languageModel && !config.tieWordEmbeddings)
    if head == .reward {
      add(score, [1, H])
      list.append(
        ExpectedTensor(name: scoreBias, shape: [1], required: false, usedWhenPresent: true)
      )
    }
    appendVision(config, to: &list)
    let (VH, bias) = (config.vision.hiddenSize, config.multimodalProjectorBias)
    add(projector1Weight, [H, VH])
    if bias { add(projector1Bias, [H]) }
    add(projector2Weight, [H, H])
    if bias { add(projector2Bias, [H]) }
    return list
  }

  private static func appendVision(_ config: LlavaConfig, to list: inout [ExpectedTensor]) {
    let v = config.vision
    func add(_ name: String, _ shape: [Int]?, required: Bool = true) {
      list.append(ExpectedTensor(name: name, shape: shape, required: required))
    }
    let (VH, VI) = (v.hiddenSize, v.intermediateSize)
    add(patchEmbedding, [VH, v.numChannels, v.patchSize, v.patchSize])
    add(classEmbedding, [VH])
    add(positionEmbedding, [v.positionCount, VH])
    add("vision.embeddings.position_ids", nil, required: false)
    add(preLayerNormWeight, [VH])
    add(preLayerNormBias, [VH])
    for index in 0..<v.numHiddenLayers {
      let layer = visionLayer(index)
      let used = index < config.visionLayersUsed
      let shaped = [
        (layer.qProj, [VH, VH], VH), (layer.kProj, [VH, VH], VH), (layer.vProj, [VH, VH], VH),
        (layer.outProj, [VH, VH], VH), (layer.layerNorm1, [VH], VH), (layer.layerNorm2, [VH], VH),
        (layer.fc1, [VI, VH], VI), (layer.fc2, [VH, VI], VH),
      ]
      for (name, shape, out) in shaped {
        add(name, shape, required: used)
        add(layer.bias(of: name), [out], required: used)
      }
    }
    add(postLayerNormWeight, [VH], required: false)
    add(postLayerNormBias, [VH], required: false)
  }
}
