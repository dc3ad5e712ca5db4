// The LLaMA decoder of a LLaVA model over a per-request KV cache: token embeddings with the
// image features spliced in at the image-token positions, then per layer RMSNorm → q/k/v →
// RoPE → causal GQA attention over the cache → o_proj → residual, RMSNorm → SwiGLU MLP →
// residual; the final RMSNorm. Heads (LM logits, reward score) read the final-norm output.
// Dimensions: `T` new tokens, `C` hidden, `NH`/`NKV` heads, `HS` head size, `I` MLP size.
import Checkpoints
import Engine

/// The language model: a forward over new tokens appends to a `KVCache`.
public struct LanguageModel: Sendable {
  /// Whether a layer's LoRA deltas run stacked per input set (one A product per adapter for
  /// q, k, v and one for gate, up; the default) or one linear at a time (the earlier path,
  /// kept so that `EngineBench --lora` can compare the two in one run). Set it only while no
  /// forward pass runs.
  nonisolated(unsafe) public static var stacksLoRA = true
  public let weights: LlavaWeights
  let config: LlamaTextConfig
  /// The typed parameters (`weights.decoder`), read by every forward.
  let parameters: DecoderParameters

  public init(weights: LlavaWeights) {
    self.weights = weights
    self.config = weights.config.text
    self.parameters = weights.decoder
  }

  /// An empty cache for one sequence; `capacity` defaults to `max_position_embeddings`.
  public func makeCache(capacity: Int? = nil) -> KVCache {
    KVCache(
      layers: config.numHiddenLayers,
      capacity: capacity ?? config.maxPositionEmbeddings,
      NKV: config.numKeyValueHeads,
      HS: config.headDim
    )
  }

  /// Checks `tokens` (and the image rows they need) against the vocabulary and the cache.
  func validate(_ tokens: [Int32], imageRows: Int, cache: borrowing KVCache) throws(ModelError) {
    try validate(tokens, imageRows: imageRows)
    guard cache.count + tokens.count <= cache.capacity else {
      throw .contextOverflow(needed: cache.count + tokens.count, capacity: cache.capacity)
    }
  }

  /// The cache-independent part of `validate`: tokens and image rows. Only image tokens before
  /// `imageRowsEnd` (all by default) take image rows; later ones (sampled in a response) embed
  /// their own row, as serving's decode feeds them.
  func validate(_ tokens: [Int32], imageRows: Int, imageRowsEnd: Int? = nil) throws(ModelError) {
    guard !tokens.isEmpty else { throw .emptyInput }
    let imageToken = Int32(truncatingIfNeeded: weights.config.imageTokenIndex)
    let end = imageRowsEnd ?? tokens.count
    let imageTokens = try countImageRows(tokens) { $0 < end && tokens[$0] == imageToken }
    guard imageTokens == imageRows else {
      throw .imageTokenCountMismatch(tokens: imageTokens, features: imageRows)
    }
  }

  /// The embeddings of `tokens` into `out (T, C)`, the N image tokens' rows (those before
  /// `imageRowsEnd`, all by default) replaced by `imageEmbeddings (N, C)` in order (shared by
  /// serving and the training forward).
  func embed(
    _ tokens: [Int32],
    imageEmbeddings: [Float]?,
    imageRowsEnd: Int? = nil,
    into out: UnsafeMutablePointer<Float>
  ) {
    let (T, C) = (tokens.count, config.hiddenSize)
    let imageToken = Int32(truncatingIfNeeded: weights.config.imageTokenIndex)
    let end = min(T, imageRowsEnd ?? T)
    // (T) image rows overwritten below
    let lookup = tokens.indices.map { t in t < end && tokens[t] == imageToken ? 0 : tokens[t] }
    lookup.withUnsafeBufferPointer {
      Embedding.forward(out: out, tokens: $0.baseAddress!, table: parameters.embed, BT: T, C: C)
    }
    guard let imageEmbeddings else { return }
    var row = 0
    for t in 0..<end where tokens[t] == imageToken {
      imageEmbeddings.withUnsafeBufferPointer {
        (out + t * C).update(from: $0.baseAddress! + row * C, count: C)
      }
      row += 1
    }
  }

  /// The number of image rows among `tokens`; every other token must have an embedding row
  /// (`LlamaTextConfig.embeds`). The one token check of the single and the batched forward.
  func countImageRows(
    _ tokens: [Int32],
    isImageRow: (Int) -> Bool
  ) throws(ModelError) -> Int {
    var imageRows = 0
    for index in tokens.indices {
      if isImageRow(index) {
        imageRows += 1
      } else if !config.embeds(tokens[index]) {
        throw .tokenOutOfRange(token: tokens[index], vocabulary: config.vocabSize)
      }
    }
    return imageRows
  }

  /// Runs `tokens` at positions `cache.count ..< cache.count + T`, appends their keys and
  /// values to `cache`, and returns the activations (the final-norm output in `lnf`).
  /// `imageEmbeddings` `(N, C)` replace the embeddings of the N image tokens, in order.
  /// With `adapter`, every linear it targets adds its LoRA delta (one policy version).
  func run(
    tokens: [Int32],
    imageEmbeddings: [Float]?,
    cache: inout KVCache,
    adapter: DecoderAdapter? = nil,
    keepAllLayers: Bool = false
  ) throws(ModelError) -> DecoderActivations {
    let (C, NH, NKV, HS) = (
      config.hiddenSize, config.numAttentionHeads, config.numKeyValueHeads, config.headDim
    )
    let (T, past) = (tokens.count, cache.count)
    let imageValues = imageEmbeddings?.count ?? 0
    guard imageValues % C == 0 else {
      throw .imageFeatureWidthMismatch(width: C, count: imageValues)
    }
    let imageRows = imageValues / C
    try validate(tokens, imageRows: imageRows, cache: cache)
    try checkAdapter(adapter)
    let adapters = adapter.map { [AdapterRows(adapter: $0, rows: (0..<T).map { Int32($0) })] } ?? []
    let acts = DecoderActivations(config: config, T: T, keepAllLayers: keepAllLayers)
    let positions = (0..<T).map { Int32(past + $0) }  // (T)
    embed(tokens, imageEmbeddings: imageEmbeddings, into: acts.stream(0))
    positions.withUnsafeBufferPointer { p in
      for l in 0..<config.numHiddenLayers {
        layerForward(l, acts: acts, positions: p.baseAddress!, adapters: adapters) { a in
          let (keys, values) = (cache.keys(layer: l), cache.values(layer: l))  // (Lmax, NKV, HS)
          (keys + past * NKV * HS).update(from: a.k, count: T * NKV * HS)
          (values + past * NKV * HS).update(from: a.v, count: T * NKV * HS)
          CausalAttention.forward(
            out: a.attn,
            att: nil,
            q: a.q,
            keys: keys,
            values: values,
            past: past,
            T: T,
            NH: NH,
            NKV: NKV,
            HS: HS
          )
        }
      }
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
    cache.count = past + T
    return acts
  }

  /// Decoder layer `l` over the `T` rows of `acts` (stream `l` in, stream `l + 1` out), the
  /// rows at `positions`. Storing keys and values and attending is left to `attend`, which reads
  /// the layer's `q`, `k`, `v` (after RoPE) and writes `attn`: a contiguous per-sequence cache
  /// (`run`) or a paged pool shared by a batch of sequences (`forwardBatch`). Each linear's base
  /// product runs once over all T rows; then each of `adapters` adds its delta to its own rows
  /// (the linears that read one input together: `DecoderLayerLoRA.inputSets`).
  func layerForward(
    _ l: Int,
    acts: borrowing DecoderActivations,
    positions: UnsafePointer<Int32>,  // (T)
    adapters: [AdapterRows] = [],
    attend: (DecoderActivations.Layer) -> Void
  ) {
    let (C, I, NH, NKV, HS) = (
      config.hiddenSize, config.intermediateSize, config.numAttentionHeads,
      config.numKeyValueHeads, config.headDim
    )
    let (T, eps) = (acts.T, Float(config.rmsNormEps))
    let theta = Float(config.rope.theta)
    let factor = config.ropeScalingFactor
    let p = parameters.layers[l]
    let a = acts.layer(l)
    let (x, y) = (acts.stream(l), acts.stream(l + 1))  // (T, C): stream in, stream out
    func linear(
      _ out: UnsafeMutablePointer<Float>,
      _ input: UnsafePointer<Float>,
      _ which: DecoderLinear,
      _ N: Int,
      _ K: Int,
      accumulate: Bool = false
    ) {
      let linear = p[which]
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
    /// Each adapter's deltas on its rows of the outputs of input set `set` (the base products
    /// already in `outs`): one stacked A product per adapter for the set's linears.
    func adapt(
      _ set: Int,
      _ outs: [UnsafeMutablePointer<Float>],
      _ N: [Int],
      _ input: UnsafePointer<Float>,
      _ K: Int
    ) {
      guard !adapters.isEmpty else { return }
      var rows: [[Int32]] = []
      var stacks: [LoRAStack] = []
      for group in adapters {
        guard let stack = group.adapter.layers[l].stacks[set] else { continue }
        rows.append(group.rows)
        stacks.append(stack)
      }
      guard !stacks.isEmpty else { return }
      guard LanguageModel.stacksLoRA else {  // the earlier path: one fork per linear
        for (t, linear) in DecoderLayerLoRA.inputSets[set].enumerated() {
          var linearRows: [[Int32]] = []
          var loras: [LoRAWeights] = []
          for group in adapters {
            guard let lora = group.adapter.layers[l][linear] else { continue }
            linearRows.append(group.rows)
            loras.append(lora)
          }
          LoRA.forward(out: outs[t], in: input, groups: linearRows, loras: loras, N: N[t], K: K)
        }
        return
      }
      LoRA.forward(outs: outs, N: N, in: input, groups: rows, stacks: stacks, K: K)
    }
    RMSNorm.forward(
      out: a.ln1,
      rstd: a.rstd1,
      in: x,
      weight: p.inputNorm,
      eps: eps,
      BT: T,
      C: C
    )
    linear(a.q, a.ln1, .q, NH * HS, C)  // (T, NH, HS)
    linear(a.k, a.ln1, .k, NKV * HS, C)  // (T, NKV, HS)
    linear(a.v, a.ln1, .v, NKV * HS, C)  // (T, NKV, HS)
    adapt(0, [a.q, a.k, a.v], [NH * HS, NKV * HS, NKV * HS], a.ln1, C)  // inputSets[0]: q, k, v
    RoPE.forward(
      x: a.q,
      positions: positions,
      T: T,
      NH: NH,
      HS: HS,
      theta: theta,
      scalingFactor: factor
    )
    RoPE.forward(
      x: a.k,
      positions: positions,
      T: T,
      NH: NKV,
      HS: HS,
      theta: theta,
      scalingFactor: factor
    )
    attend(a)  // (T, NH, HS) into a.attn
    y.update(from: x, count: T * C)
    linear(y, a.attn, .o, C, NH * HS, accumulate: true)  // y = x + attn · Wo
    adapt(1, [y], [C], a.attn, NH * HS)  // o
    RMSNorm.forward(
      out: a.ln2,
      rstd: a.rstd2,
      in: y,
      weight: p.postNorm,
      eps: eps,
      BT: T,
      C: C
    )
    linear(a.gate, a.ln2, .gate, I, C)  // (T, I)
    linear(a.up, a.ln2, .up, I, C)  // (T, I)
    adapt(2, [a.gate, a.up], [I, I], a.ln2, C)  // gate, up
    SwiGLU.forward(out: a.swiglu, gate: a.gate, up: a.up, count: T * I)
    linear(y, a.swiglu, .down, C, I, accumulate: true)  // y += mlp
    adapt(3, [y], [C], a.swiglu, I)  // down
  }

  /// Logits `(rows, V)` of the last `rows` positions of `acts`.
  func logits(_ acts: borrowing DecoderActivations, rows: Int) -> [Float] {
    let (C, V) = (config.hiddenSize, config.vocabSize)
    let out = Tensor(shape: [rows, V])  // (rows, V)
    Matmul.forward(
      out: out.data,
      in: acts.lnf + (acts.T - rows) * C,
      weight: lmHead,
      bias: nil,
      M: rows,
      N: V,
      K: C
    )
    return out.toArray()
  }

  /// The LM head `(V, C)`; a reward model has none.
  var lmHead: WeightView {
    guard let head = parameters.lmHead else { preconditionFailure("no LM head (a reward model)") }
    return head
  }

  /// Refuses an adapter validated for a decoder of another shape.
  public func checkAdapter(_ adapter: DecoderAdapter?) throws(ModelError) {
    guard let adapter else { return }
    let shape = DecoderAdapter.shape(of: config)
    guard adapter.baseShape != shape else { return }
    throw .adapter(
      "made for a decoder of shape \(adapter.baseShape) (layers, hidden, MLP, q, kv), this one is \(shape)"
    )
  }

  /// Runs `tokens` (appending to `cache`) and returns the logits of the last position `(V)`,
  /// or of every new position `(T, V)` when `allPositions`. `adapter`: a policy version's LoRA
  /// set (nil: the base); the cache must hold only this version's keys and values.
  public func forward(
    tokens: [Int32],
    imageEmbeddings: [Float]? = nil,
    cache: inout KVCache,
    adapter: DecoderAdapter? = nil,
    allPositions: Bool = false
  ) throws(ModelError) -> [Float] {
    let acts = try run(
      tokens: tokens,
      imageEmbeddings: imageEmbeddings,
      cache: &cache,
      adapter: adapter
    )
    return logits(acts, rows: allPositions ? tokens.count : 1)
  }

  /// The final hidden states after the final norm, `(T, C)` (what the heads read).
  public func finalHidden(
    tokens: [Int32],
    imageEmbeddings: [Float]? = nil,
    cache: inout KVCache,
    adapter: DecoderAdapter? = nil
  ) throws(ModelError) -> [Float] {
    let acts = try run(
      tokens: tokens,
      imageEmbeddings: imageEmbeddings,
      cache: &cache,
      adapter: adapter
    )
    return Array(UnsafeBufferPointer(start: acts.lnf, count: tokens.count * config.hiddenSize))
  }
}

/// The rows of a forward that one adapter applies to (indices into the `(M, ·)` stream).
struct AdapterRows {
  let adapter: DecoderAdapter
  var rows: [Int32]
}

extension LlamaTextConfig {
  /// RoPE's `scalingFactor` (1 without scaling; "linear" divides the positions by it).
  var ropeScalingFactor: Float {
    switch rope.scaling {
    case .none: 1
    case .linear(let factor): Float(factor)
    }
  }
}
