// `text_config` of a llava-hf config.json: a transformers LlamaConfig. llava-hf files are sparse
// (llava-1.5-7b-hf lists only vocab_size, rms_norm_eps, max_position_embeddings and a few more),
// so every omitted key takes LlamaConfig's default. Checked against transformers
// src/transformers/models/llama/configuration_llama.py (commit 008e574, 5.x dataclass fields; the
// 4.x `__init__` has the same values): vocab_size 32000, hidden_size 4096, intermediate_size 11008,
// num_hidden_layers 32, num_attention_heads 32, num_key_value_heads None → num_attention_heads,
// head_dim None → hidden_size // num_attention_heads, hidden_act "silu",
// max_position_embeddings 2048, rms_norm_eps 1e-6, bos_token_id 1, eos_token_id 2,
// pad_token_id None, tie_word_embeddings False, attention_bias False, mlp_bias False; rope_theta
// 10000 (4.x `rope_theta=10000.0`; 5.x `RotaryEmbeddingConfigMixin.default_theta = 10_000.0`).
// RoPE (modeling_rope_utils.py `convert_rope_params_to_dict`): `rope_scaling` if set, else
// `rope_parameters`; inside it `rope_type` (or legacy `type`, default "default"); `rope_theta`
// from that dict first, then the top-level `rope_theta`, then the default.

/// Rotary position embedding parameters.
public struct RopeConfig: Sendable, Equatable {
  public enum Scaling: Sendable, Equatable {
    case none
    /// Positions divided by `factor` ("linear" / position interpolation).
    case linear(factor: Double)
  }

  public var theta: Double
  public var scaling: Scaling

  public init(theta: Double = 10_000, scaling: Scaling = .none) {
    self.theta = theta
    self.scaling = scaling
  }
}

/// The language model of a LLaVA checkpoint (LlamaConfig).
public struct LlamaTextConfig: Sendable, Equatable, Decodable {
  public var vocabSize = 32_000

  /// Whether `token` has an embedding row (`0 ..< vocab_size`): the one range rule that the
  /// request checks (Serving's `ModelVocabulary`) and the engine's own checks (Models) apply.
  public func embeds(_ token: Int32) -> Bool { Self.embeds(token, vocabSize: vocabSize) }

  /// `embeds` for a vocabulary of `vocabSize` ids.
  public static func embeds(_ token: Int32, vocabSize: Int) -> Bool {
    token >= 0 && Int(token) < vocabSize
  }
  public var hiddenSize = 4096
  public var intermediateSize = 11_008
  public var numHiddenLayers = 32
  public var numAttentionHeads = 32
  public var numKeyValueHeads = 32
  public var headDim = 128
  public var hiddenAct = "silu"
  public var maxPositionEmbeddings = 2048
  public var rmsNormEps = 1e-6
  public var rope = RopeConfig()
  public var tieWordEmbeddings = false
  public var attentionBias = false
  public var mlpBias = false
  public var bosTokenId: Int? = 1
  public var eosTokenIds: [Int] = [2]
  public var padTokenId: Int?

  /// LlamaConfig's defaults (what an absent `text_config` means).
  public init() {}

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: AnyKey.self)
    let modelType = try c.value("model_type", or: "llama")
    guard modelType == "llama" else {
      throw unsupported("text_config.model_type '\(modelType)' is not supported (only 'llama')")
    }
    vocabSize = try c.value("vocab_size", or: vocabSize)
    hiddenSize = try c.value("hidden_size", or: hiddenSize)
    intermediateSize = try c.value("intermediate_size", or: intermediateSize)
    numHiddenLayers = try c.value("num_hidden_layers", or: numHiddenLayers)
    numAttentionHeads = try c.value("num_attention_heads", or: numAttentionHeads)
    numKeyValueHeads = try c.value("num_key_value_heads", or: numAttentionHeads)
    guard numAttentionHeads > 0 else {
      throw invalidConfig("text_config.num_attention_heads must be positive")
    }
    headDim = try c.value("head_dim", or: hiddenSize / numAttentionHeads)
    hiddenAct = try c.value("hidden_act", or: hiddenAct)
    maxPositionEmbeddings = try c.value("max_position_embeddings", or: maxPositionEmbeddings)
    rmsNormEps = try c.value("rms_norm_eps", or: rmsNormEps)
    tieWordEmbeddings = try c.value("tie_word_embeddings", or: false)
    attentionBias = try c.value("attention_bias", or: false)
    mlpBias = try c.value("mlp_bias", or: false)
    bosTokenId = c.contains("bos_token_id") ? try c.optional("bos_token_id") : 1
    eosTokenIds =
      c.contains("eos_token_id")
      ? (try c.optional("eos_token_id") as IntOrList?)?.values ?? [] : [2]
    padTokenId = try c.optional("pad_token_id")
    rope = try Self.decodeRope(c)
    try validate()
  }

  private static func decodeRope(_ c: KeyedDecodingContainer<AnyKey>) throws -> RopeConfig {
    let topTheta: Double = try c.value("rope_theta", or: 10_000)
    var dictionary: KeyedDecodingContainer<AnyKey>?
    var source = ""
    for key: AnyKey in ["rope_scaling", "rope_parameters"] where dictionary == nil {
      if c.contains(key), try !c.decodeNil(forKey: key) {
        dictionary = try c.nestedContainer(keyedBy: AnyKey.self, forKey: key)
        source = key.stringValue
      }
    }
    guard let dictionary else { return RopeConfig(theta: topTheta) }
    let theta: Double = try dictionary.value("rope_theta", or: topTheta)
    let legacyType: String = try dictionary.value("type", or: "default")
    let type: String = try dictionary.value("rope_type", or: legacyType)
    switch type {
    case "default":
      return RopeConfig(theta: theta)
    case "linear":
      guard let factor: Double = try dictionary.optional("factor"), factor > 0, factor.isFinite
      else {
        throw invalidConfig("text_config.\(source): linear RoPE scaling needs a positive 'factor'")
      }
      return RopeConfig(theta: theta, scaling: .linear(factor: factor))
    default:
      throw unsupported(
        "text_config.\(source): rope_type '\(type)' is not supported (only 'default' and 'linear')"
      )
    }
  }

  func validate() throws(CheckpointError) {
    let sizes = [
      ("vocab_size", vocabSize), ("hidden_size", hiddenSize),
      ("intermediate_size", intermediateSize),
      ("num_hidden_layers", numHiddenLayers), ("num_key_value_heads", numKeyValueHeads),
      ("head_dim", headDim),
      ("max_position_embeddings", maxPositionEmbeddings),
    ]
    for (name, value) in sizes where value <= 0 {
      throw invalidConfig("text_config.\(name) must be positive, got \(value)")
    }
    guard numAttentionHeads % numKeyValueHeads == 0 else {
      throw invalidConfig(
        "text_config.num_attention_heads (\(numAttentionHeads)) is not a multiple of num_key_value_heads (\(numKeyValueHeads))"
      )
    }
    guard rmsNormEps > 0, rmsNormEps.isFinite, rope.theta > 0, rope.theta.isFinite else {
      throw invalidConfig("text_config: rms_norm_eps and rope_theta must be positive")
    }
    guard hiddenAct == "silu" else {
      throw unsupported("text_config.hidden_act '\(hiddenAct)' is not supported (only 'silu')")
    }
  }
}
