// Saving a served adapter as a PEFT directory (for `SaveCheckpoint`), and random adapters for
// benchmarks and tests. Module paths are transformers 5's (`model.language_model.layers.<l>.…`),
// the names PEFT gives the keys of a LlavaForConditionalGeneration it wraps.
public import Checkpoints
public import Engine

extension DecoderAdapter {
  /// PEFT's module path of layer `l`'s `linear` in a LlavaForConditionalGeneration.
  public static func modulePath(layer: Int, _ linear: DecoderLinear) -> String {
    "model.language_model.layers.\(layer).\(linear.block).\(linear.moduleName)"
  }

  /// Writes this adapter as a new PEFT adapter directory at `directory`, atomically (temp dir,
  /// fsync of each file, rename, fsync of the parent); an existing `directory` is an error.
  /// `target_modules` is a pattern naming exactly the adapted layers and linears. `head`: a
  /// reward model's trained score head, saved as PEFT's `modules_to_save: ["score"]`.
  public func write(
    to directory: String,
    baseModelNameOrPath: String? = nil,
    head: RewardScoreHead? = nil
  ) throws(ModelError) {
    var config = self.config
    config.targetModules = .pattern(targetPattern)
    config.baseModelNameOrPath = baseModelNameOrPath ?? config.baseModelNameOrPath
    let written = pairs.map { pair in
      LoRAWeightPair(
        module: Self.modulePath(layer: pair.layer, pair.linear),
        a: pair.a,
        b: pair.b,
        rank: config.rank,
        inFeatures: pair.a.count / config.rank,
        outFeatures: pair.b.count / config.rank
      )
    }
    do {
      try LoRAAdapterWriter.write(config: config, pairs: written, head: head, to: directory)
    } catch {
      throw .adapter(error.message)
    }
  }

  /// A regular expression (PEFT's `re.fullmatch` on module paths) matching the adapted modules.
  var targetPattern: String {
    let adapted = layers.map { layer in DecoderLinear.allCases.filter { layer[$0] != nil } }
    let layerIndices = adapted.indices.filter { !adapted[$0].isEmpty }
    func alternatives(_ linears: [DecoderLinear]) -> String {
      let blocks = Set(linears.map(\.block)).sorted().joined(separator: "|")
      return "(\(blocks))\\.(\(linears.map(\.moduleName).joined(separator: "|")))"
    }
    if let first = layerIndices.first, layerIndices.allSatisfy({ adapted[$0] == adapted[first] }) {
      let numbers = layerIndices.map(String.init).joined(separator: "|")
      return ".*language_model\\.layers\\.(\(numbers))\\.\(alternatives(adapted[first]))"
    }
    let each = layerIndices.map { "\($0)\\.\(alternatives(adapted[$0]))" }
    return ".*language_model\\.layers\\.(\(each.joined(separator: "|")))"
  }

  /// A random adapter on `targets` of every layer (benchmarks, tests): A ~ U(−1, 1)/√K,
  /// B ~ U(−1, 1)·`bScale`, deterministic for a `seed`; stored as `dtype` (default as `init`).
  public convenience init(
    randomRank rank: Int,
    alpha: Double,
    targets: [DecoderLinear] = DecoderLinear.allCases,
    base: LlavaWeights,
    seed: UInt64,
    bScale: Float = 0.01,
    dtype: WeightView.DType? = nil
  ) throws(ModelError) {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    func next() -> Float {  // xorshift64*, uniform in [-1, 1)
      state ^= state >> 12
      state ^= state << 25
      state ^= state >> 27
      return Float((state &* 0x2545_F491_4F6C_DD1D) >> 40) / Float(1 << 23) - 1
    }
    var pairs: [Pair] = []
    for (l, layer) in base.decoder.layers.enumerated() {
      for linear in targets {
        let (N, K) = (layer[linear].outFeatures, layer[linear].inFeatures)
        let aScale = 1 / Float(K).squareRoot()
        let a = (0..<(rank * K)).map { _ in next() * aScale }
        let b = (0..<(N * rank)).map { _ in next() * bScale }
        pairs.append(Pair(layer: l, linear: linear, a: a, b: b))
      }
    }
    let config = LoRAAdapterConfig(
      rank: rank,
      alpha: alpha,
      targetModules: .names(targets.map(\.moduleName))
    )
    try self.init(config: config, pairs: pairs, base: base, dtype: dtype)
  }
}
