// Versions share a batch: rows of the base, adapter A and adapter B, as decode and prefill
// entries in one step, equal each version run alone; base rows do not see the adapters.
import Checkpoints
import Engine
import Models
import Testing

@Suite(.enabled(if: Fixtures.present, "Tests/Fixtures is absent"))
struct LoRABatchTests {
  static let blockSize = 8

  /// Two steps for sequences of every version in `versions`: step 1 prefills a prompt per version
  /// (the "decoding" sequences); step 2 decodes one token on each and prefills a chunk of a new
  /// sequence per version. Returns the logits of step 2, `(2·versions, V)` in entry order.
  static func twoSteps(
    _ language: LanguageModel,
    versions: [DecoderAdapter?],
    prompts: (first: [Int32], second: [Int32])
  ) throws -> (first: [Float], second: [Float]) {
    let cache = language.makePagedCache(blocks: 64, blockSize: blockSize)
    var blocks = ScrambledBlocks(blocks: 64)
    let tables = versions.map { _ in
      (
        blocks.take(positions: prompts.first.count + 1, blockSize: blockSize),
        blocks.take(positions: prompts.second.count, blockSize: blockSize)
      )
    }
    let first = try language.logitsBatch(
      versions.indices.map {
        DecoderBatchEntry(
          tokens: prompts.first,
          start: 0,
          blockTable: tables[$0].0,
          adapter: versions[$0]
        )
      },
      cache: cache
    )
    var entries: [DecoderBatchEntry] = []
    for v in versions.indices {
      entries.append(
        DecoderBatchEntry(
          tokens: [300],
          start: prompts.first.count,
          blockTable: tables[v].0,
          adapter: versions[v]
        )
      )
      entries.append(
        DecoderBatchEntry(
          tokens: prompts.second,
          start: 0,
          blockTable: tables[v].1,
          adapter: versions[v]
        )
      )
    }
    // Interleave versions: decode rows of all three, then their prefill chunks.
    let order =
      stride(from: 0, to: entries.count, by: 2).map { $0 }
      + stride(from: 1, to: entries.count, by: 2).map { $0 }
    let second = try language.logitsBatch(order.map { entries[$0] }, cache: cache)
    // Back to (version, decode/prefill) order.
    let V = second.count / entries.count
    var sorted = [Float](repeating: 0, count: second.count)
    for (position, index) in order.enumerated() {
      for n in 0..<V { sorted[index * V + n] = second[position * V + n] }
    }
    return (first, sorted)
  }

  @Test(arguments: BF16Products.isSupported ? [false, true] : [false])
  func mixedBatchEqualsEachVersionAlone(bf16: Bool) throws {
    let weights = try (bf16 ? Fixtures.bf16Policy : Fixtures.policy).get()
    let language = LanguageModel(weights: weights)
    let versions: [DecoderAdapter?] =
      [nil]
      + (try LoRAFixtures.variants.map {
        try LoRAFixtures.adapter($0, base: weights)
      })
    let text = try DecoderTests.inputIds("text")
    let prompts = (first: Array(text[..<24]), second: Array(text[..<13]))
    let mixed = try Self.twoSteps(language, versions: versions, prompts: prompts)
    let V = weights.config.text.vocabSize
    var worst: Float = 0
    for (v, version) in versions.enumerated() {
      let alone = try Self.twoSteps(language, versions: [version], prompts: prompts)
      worst = max(worst, maxAbsDiff(row(mixed.first, v, width: V), alone.first))
      worst = max(
        worst,
        maxAbsDiff(Array(mixed.second[(2 * v * V)..<((2 * v + 2) * V)]), alone.second)
      )
      if !bf16 {
        // And the single-sequence path with the same adapter.
        var cache = language.makeCache()
        _ = try language.forward(tokens: prompts.first, cache: &cache, adapter: version)
        let decoded = try language.forward(tokens: [300], cache: &cache, adapter: version)
        #expect(maxAbsDiff(row(mixed.second, 2 * v, width: V), decoded) <= 1e-4)
      }
    }
    print("mixed versions vs each alone (bf16 \(bf16)): max |Δ| = \(worst)")
    #expect(worst <= 1e-5)
    // The versions really differ.
    #expect(maxAbsDiff(row(mixed.first, 0, width: V), row(mixed.first, 1, width: V)) > 0.5)
  }

  /// The base product runs once over all rows and each delta touches its own rows only: base
  /// rows are bit-identical with and without adapter rows beside them in the same batch.
  @Test func baseRowsUnchangedByAdapters() throws {
    let weights = try Fixtures.policy.get()
    let language = LanguageModel(weights: weights)
    let adapters = try LoRAFixtures.variants.map { try LoRAFixtures.adapter($0, base: weights) }
    let text = try DecoderTests.inputIds("text")
    let prompts = (first: Array(text[..<24]), second: Array(text[..<13]))
    let withAdapters = try Self.twoSteps(
      language,
      versions: [nil] + adapters,
      prompts: prompts
    )
    let baseOnly = try Self.twoSteps(language, versions: [nil, nil, nil], prompts: prompts)
    let V = weights.config.text.vocabSize
    #expect(Array(withAdapters.first[..<V]) == Array(baseOnly.first[..<V]))
    #expect(Array(withAdapters.second[..<(2 * V)]) == Array(baseOnly.second[..<(2 * V)]))
  }
}
