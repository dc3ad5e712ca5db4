// LoRA training of the LLaMA decoder, llm.c `train_gpt2.c` style: a training forward over whole
// sequences (past = 0, fp32) that keeps what the backward needs (`TrainingActivations`), heads
// with their backwards (DecoderTraining+Heads.swift), and the backward through every layer into
// the LoRA gradients (DecoderTraining+Backward.swift). The base weights, the embeddings, the
// vision tower and the projector are frozen: image rows come in as embeddings. The trainable
// tensors (LoRA A/B on the chosen targets, the score head) live in a `TrainableParameters`
// laid out by `trainables`; the forward reads them as `LoRAWeights` views, so the serving
// kernels run on the live values.
public import Checkpoints
public import Engine

/// The decoder of one model (policy, reward or value) set up for LoRA training.
public struct DecoderTraining: Sendable {
  public let weights: LlavaWeights
  public let trainables: DecoderTrainables
  /// Keep every layer's attention probabilities `(NH, T, T)`; false: the backward recomputes
  /// them one layer at a time (one more attention forward per layer, `NH·T²` floats once).
  public var keepAttention: Bool
  let config: LlamaTextConfig
  let parameters: DecoderParameters
  /// Where the score head's values start (`makeParameters`).
  let headStart: DecoderScoreHead
  /// Wᵀ panels for the backward's input gradients (`transposedWeights`), or nil.
  let transposed: TransposedWeights?

  /// Bytes of the transposed weight copies (0 without them).
  public var transposedByteCount: Int { transposed?.byteCount ?? 0 }

  /// `head`: the scalar head to train (`.none` for a policy, whose LM head stays frozen).
  /// `transposedWeights`: where the base products run on bf16 panels (split: fp32 precision over
  /// bf16 weights on an AMX host; or `precision: bf16`), keep a transposed panel copy of every
  /// decoder linear so that the backward's `dIn = dOut · W` runs at the forward's rate and
  /// precision (2× the linears' bf16 bytes).
  public init(
    weights: LlavaWeights,
    lora: DecoderLoRASettings,
    head: DecoderScoreHead = .none,
    keepAttention: Bool = true,
    transposedWeights: Bool = false
  ) throws(ModelError) {
    guard lora.rank > 0, lora.dropout >= 0, lora.dropout < 1 else {
      throw .training("LoRA rank must be positive and dropout in [0, 1)")
    }
    let headBias: Bool? =
      switch head {
      case .none: nil
      case .checkpoint: weights.decoder.score?.bias != nil
      case .zero(let bias): bias
      }
    if head == .checkpoint && weights.decoder.score == nil {
      throw .training("the checkpoint has no score head to train")
    }
    self.weights = weights
    self.config = weights.config.text
    self.parameters = weights.decoder
    self.keepAttention = keepAttention
    self.trainables = DecoderTrainables(config: config, settings: lora, headBias: headBias)
    self.headStart = head
    self.transposed = transposedWeights ? TransposedWeights(parameters: weights.decoder) : nil
  }

  /// Fresh trainable tensors: A as PEFT initializes it (Kaiming-uniform, bound 1/√K, from a
  /// generator seeded `seed`), B zero (the adapter starts as the identity), the head from the
  /// checkpoint or zero. With `adapter`, A and B are copied from it instead (its rank and
  /// targets must match).
  public func makeParameters(
    seed: UInt64 = 0,
    from adapter: DecoderAdapter? = nil
  ) throws(ModelError) -> TrainableParameters {
    let set = TrainableParameters(trainables.tensors)
    var generator = SeededGenerator(seed: seed)
    for (l, linear, segments) in trainables.adapted {
      let (a, b) = (set.parameters(segments.a), set.parameters(segments.b))
      if let adapter {
        guard let lora = adapter.layers[l][linear], lora.rank == segments.rank else {
          throw .adapter("the adapter has no rank-\(segments.rank) pair for layer \(l) \(linear)")
        }
        lora.a.convertRows(0..<lora.a.rows, into: a)
        lora.b.convertRows(0..<lora.b.rows, into: b)
      } else {
        let bound = 1 / Float(segments.inFeatures).squareRoot()
        for i in 0..<segments.a.count {
          a[i] = (Float(generator.next() >> 40) * 0x1p-24 * 2 - 1) * bound
        }
      }
    }
    if headStart == .checkpoint, let head = trainables.head, let score = parameters.score {
      score.weight.convertRows(0..<1, into: set.parameters(head))
      if let bias = trainables.headBias, let value = score.bias {
        set.parameters(bias)[0] = value[0]
      }
    }
    return set
  }

  /// The trained LoRA set as a servable adapter (fp32 buffers): what a policy version publishes,
  /// and what the serving forward runs for the "training equals serving" check.
  public func adapter(_ set: borrowing TrainableParameters) throws(ModelError) -> DecoderAdapter {
    let pairs = trainables.adapted.map { l, linear, s in
      DecoderAdapter.Pair(
        layer: l,
        linear: linear,
        a: Array(UnsafeBufferPointer(start: set.parameters(s.a), count: s.a.count)),
        b: Array(UnsafeBufferPointer(start: set.parameters(s.b), count: s.b.count))
      )
    }
    return try DecoderAdapter(
      config: trainables.settings.adapterConfig,
      pairs: pairs,
      base: weights,
      dtype: .f32
    )
  }

  /// Layer `l`'s LoRA of `linear` over the live parameter values, or nil.
  func lora(_ set: borrowing TrainableParameters, _ l: Int, _ linear: DecoderLinear) -> LoRAWeights?
  {
    guard let s = trainables.segments(layer: l, linear) else { return nil }
    return LoRAWeights(
      a: set.weightView(s.a),
      b: set.weightView(s.b),
      scale: trainables.settings.scale
    )
  }

  /// The training forward: `tokens` at positions `0 ..< T`, the N image tokens' embeddings
  /// replaced by `imageEmbeddings` `(N, C)` in order; every adapted linear adds its LoRA delta
  /// (on a dropped input when `dropoutSeed` is given and the settings' dropout is > 0).
  /// `imageRowsEnd`: only image tokens before this position take image rows (a rollout's
  /// query length: an image token sampled in the response embeds its own row, as in serving).
  public func forward(
    tokens: [Int32],
    imageEmbeddings: [Float]? = nil,
    imageRowsEnd: Int? = nil,
    parameters set: borrowing TrainableParameters,
    dropoutSeed: UInt64? = nil
  ) throws(ModelError) -> TrainingActivations {
    let C = config.hiddenSize
    let T = tokens.count
    guard set.segments == TrainableParameters.segments(trainables.tensors) else {
      throw .training("the trainable parameters were not made by this DecoderTraining")
    }
    let imageValues = imageEmbeddings?.count ?? 0
    guard imageValues % C == 0 else {
      throw .imageFeatureWidthMismatch(width: C, count: imageValues)
    }
    let model = LanguageModel(weights: weights)
    guard T <= config.maxPositionEmbeddings else {
      throw .contextOverflow(needed: T, capacity: config.maxPositionEmbeddings)
    }
    try model.validate(tokens, imageRows: imageValues / C, imageRowsEnd: imageRowsEnd)
    let dropout = dropoutSeed.flatMap { seed in
      trainables.settings.dropout > 0
        ? LoRADropout(probability: trainables.settings.dropout, seed: seed) : nil
    }
    let acts = TrainingActivations(
      config: config,
      T: T,
      keepAttention: keepAttention,
      dropout: dropout
    )
    model.embed(
      tokens,
      imageEmbeddings: imageEmbeddings,
      imageRowsEnd: imageRowsEnd,
      into: acts.stream(0)
    )
    let positions = (0..<T).map { Int32($0) }
    for l in 0..<config.numHiddenLayers {
      layerForward(l, acts: acts, positions: positions, set: set)
    }
    RMSNorm.forward(
      out: acts.lnf,
      rstd: acts.rstdf,
      in: acts.stream(config.numHiddenLayers),
      weight: parameters.finalNorm,
      eps: Float(config.rmsNormEps),
      BT: T,
      C: C
    )
    return acts
  }
}

/// A small seeded generator (SplitMix64) for A's initial values: the same seed, the same A.
struct SeededGenerator: RandomNumberGenerator {
  private var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9e37_79b9_7f4a_7c15
    var z = state
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return z ^ (z >> 31)
  }
}
