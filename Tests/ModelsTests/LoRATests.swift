// LoRA policy versions: logits equal transformers + PEFT's on the same adapter (fp32, 1e-4);
// the adapter is validated against the base and refused with a clear error when unsupported.
import Checkpoints
import Engine
import Foundation
import Models
import Testing

@Suite(.enabled(if: Fixtures.present, "Tests/Fixtures is absent"))
struct LoRATests {
  @Test(arguments: LoRAFixtures.variants, ["text", "image"])
  func logitsEqualPEFT(variant: String, name: String) throws {
    let model = LlavaModel(weights: try Fixtures.policy.get())
    let adapter = try LoRAFixtures.adapter(variant, base: model.weights)
    let tokens = try DecoderTests.inputIds(name)
    let image = name == "image" ? try model.imageEmbeddings(pixels: try Fixtures.pixels()) : nil
    var cache = model.language.makeCache()
    let all = try model.language.forward(
      tokens: tokens,
      imageEmbeddings: image,
      cache: &cache,
      adapter: adapter,
      allPositions: true
    )  // (T, V)
    let expected = try LoRAFixtures.logits(variant, name)  // (4, V)
    let V = expected.count / LoRAFixtures.lastPositions
    let last = Array(all[((tokens.count - LoRAFixtures.lastPositions) * V)...])
    let delta = maxAbsDiff(last, expected)
    // The batched path, the prompt as one entry.
    let paged = model.language.makePagedCache(blocks: 16, blockSize: 8)
    var blocks = ScrambledBlocks(blocks: 16)
    let entry = DecoderBatchEntry(
      tokens: tokens,
      start: 0,
      blockTable: blocks.take(positions: tokens.count, blockSize: 8),
      image: image.map { ($0, 0) },
      adapter: adapter
    )
    let batched = try model.language.logitsBatch([entry], cache: paged)
    let batchedDelta = maxAbsDiff(batched, row(expected, LoRAFixtures.lastPositions - 1, width: V))
    print("\(variant) \(name) vs PEFT: max |Δ| = \(delta) (run), \(batchedDelta) (batch)")
    #expect(delta <= 1e-4)
    #expect(batchedDelta <= 1e-4)
    // Not the base: the adapter moves the logits by units.
    let base = try Fixtures.floats("policy.safetensors", name + ".logits")
    #expect(maxAbsDiff(last, Array(base[((tokens.count - 4) * V)...])) > 0.5)
  }

  @Test func adapterShapeAndMemory() throws {
    let weights = try Fixtures.policy.get()
    let adapter = try LoRAFixtures.adapter("adapter-a", base: weights)
    #expect(adapter.config.rank == 4 && adapter.config.alpha == 8)
    #expect(adapter.layers.count == 2)
    for layer in adapter.layers {
      for linear in DecoderLinear.allCases {
        let lora = try #require(layer[linear])
        #expect(lora.rank == 4 && lora.scale == 2)
      }
    }
    // Per layer: r · (6·64 + 128) for A, r · (64 + 32 + 32 + 64 + 128 + 128 + 64) for B; fp32.
    #expect(adapter.byteCount == 2 * 4 * (512 + 512) * 4)
    #expect(adapter.dtype == .f32)
    let b = try LoRAFixtures.adapter("adapter-b", base: weights)
    #expect(b.layers[0][.q]?.scale == Float(5 / 8.0.squareRoot()))
  }

  @Test func visionTargetsAreRefused() throws {
    // A real PEFT adapter with q_proj/v_proj on both the language model and the vision tower.
    let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent(
        "CheckpointsTests/Inputs/peft-lora-tiny/adapter"
      ).path
    let error = #expect(throws: ModelError.self) {
      try DecoderAdapter(directory: directory, base: try Fixtures.policy.get())
    }
    #expect("\(error.map { "\($0)" } ?? "")".contains("vision tower"))
  }

  @Test func unsupportedOptionsAndShapesAreRefused() throws {
    let weights = try Fixtures.policy.get()
    let dora = FileManager.default.temporaryDirectory.appendingPathComponent(
      "rlhfd-dora-\(UInt32.random(in: 0...UInt32.max))"
    )
    try FileManager.default.copyItem(
      at: URL(fileURLWithPath: LoRAFixtures.directory("adapter-a")),
      to: dora
    )
    defer { try? FileManager.default.removeItem(at: dora) }
    let configURL = dora.appendingPathComponent("adapter_config.json")
    let config = try String(contentsOf: configURL, encoding: .utf8)
    try config.replacingOccurrences(of: "\"use_dora\": false", with: "\"use_dora\": true")
      .write(to: configURL, atomically: true, encoding: .utf8)
    let error = #expect(throws: ModelError.self) {
      try DecoderAdapter(directory: dora.path, base: weights)
    }
    #expect("\(error.map { "\($0)" } ?? "")".contains("DoRA"))
    // A pair whose shapes do not fit the base (q_proj is 64 × 64).
    let wrong = DecoderAdapter.Pair(
      layer: 0,
      linear: .q,
      a: [Float](repeating: 0, count: 2 * 32),
      b: [Float](repeating: 0, count: 64 * 2)
    )
    #expect(throws: ModelError.self) {
      try DecoderAdapter(config: LoRAAdapterConfig(rank: 2), pairs: [wrong], base: weights)
    }
    let tooDeep = DecoderAdapter.Pair(layer: 2, linear: .q, a: [], b: [])
    #expect(throws: ModelError.self) {
      try DecoderAdapter(config: LoRAAdapterConfig(rank: 2), pairs: [tooDeep], base: weights)
    }
  }

  @Test func anAdapterForAnotherShapeIsRefusedAtRunTime() throws {
    let adapter = try LoRAFixtures.adapter("adapter-a", base: try Fixtures.policy.get())
    // The multi-head variant: 4 KV heads instead of 2, so k_proj and v_proj are wider.
    let other = LanguageModel(
      weights: try LlavaWeights(directory: Fixtures.path("layouts/hub-mha-float16"))
    )
    var cache = other.makeCache()
    #expect(throws: ModelError.self) {
      try other.forward(tokens: [1, 5, 7], cache: &cache, adapter: adapter)
    }
    let paged = other.makePagedCache(blocks: 4, blockSize: 8)
    #expect(throws: ModelError.self) {
      try other.logitsBatch(
        [DecoderBatchEntry(tokens: [1, 5], start: 0, blockTable: [0], adapter: adapter)],
        cache: paged
      )
    }
  }

  /// bf16 buffers (what a bf16 adapter file is stored as: exactly) give the logits of fp32
  /// buffers holding the same values, at half the memory.
  @Test func bf16BuffersEqualFP32BuffersOfTheSameValues() throws {
    let weights = try Fixtures.policy.get()
    let source = try LoRAFixtures.adapter("adapter-a", base: weights)
    func rounded(_ values: [Float]) -> [Float] {
      values.map { HalfPrecision.float(fromBF16: HalfPrecision.bf16(from: $0)) }
    }
    let pairs = source.pairs.map {
      DecoderAdapter.Pair(layer: $0.layer, linear: $0.linear, a: rounded($0.a), b: rounded($0.b))
    }
    let f32 = try DecoderAdapter(config: source.config, pairs: pairs, base: weights, dtype: .f32)
    let bf16 = try DecoderAdapter(config: source.config, pairs: pairs, base: weights, dtype: .bf16)
    #expect(bf16.dtype == .bf16 && bf16.byteCount * 2 == f32.byteCount)
    #expect(bf16.pairs.map(\.a) == f32.pairs.map(\.a))
    let language = LanguageModel(weights: weights)
    let tokens = try DecoderTests.inputIds("text")
    var first = language.makeCache()
    var second = language.makeCache()
    let a = try language.forward(tokens: tokens, cache: &first, adapter: f32, allPositions: true)
    let b = try language.forward(tokens: tokens, cache: &second, adapter: bf16, allPositions: true)
    #expect(maxAbsDiff(a, b) <= 1e-5)
  }

  /// Under `precision: bf16` the adapter's matrices carry bf16 panels (their products take
  /// BF16Products like the base's), and its logits stay near the fp32 ones.
  @Test(.enabled(if: BF16Products.isSupported, "no AVX512-BF16"))
  func bf16PrecisionPacksTheAdapter() throws {
    let weights = try Fixtures.bf16Policy.get()
    let adapter = try LoRAFixtures.adapter("adapter-a", base: weights)
    let q = try #require(adapter.layers[1][.q])
    #expect(adapter.dtype == .bf16 && q.a.bf16Panels != nil && q.b.bf16Panels != nil)
    let exact = try LoRAFixtures.adapter("adapter-a", base: try Fixtures.policy.get())
    #expect(adapter.byteCount > exact.byteCount / 2)
    let tokens = try DecoderTests.inputIds("text")
    let language = LanguageModel(weights: weights)
    var cache = language.makeCache()
    let logits = try language.forward(tokens: tokens, cache: &cache, adapter: adapter)
    let expected = try LoRAFixtures.logits("adapter-a", "text")
    let delta = maxAbsDiff(
      logits,
      row(expected, LoRAFixtures.lastPositions - 1, width: logits.count)
    )
    print("adapter-a, bf16 products vs PEFT fp32: max |Δ| = \(delta)")
    #expect(delta <= 0.2)
  }
}
