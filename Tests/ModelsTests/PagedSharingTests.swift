import Checkpoints
import Models
import Testing

@Suite(.enabled(if: Fixtures.present, "Tests/Fixtures is absent"))
struct PagedSharingTests {
  /// Two sequences share the full blocks of a prefix computed once (the partly filled block is
  /// copied for the second), then each runs its own suffix and three decode steps.
  @Test func sharedPrefixMatchesSeparateSequences() throws {
    let language = LlavaModel(weights: try Fixtures.policy.get()).language
    let text = try DecoderTests.inputIds("text")
    let blockSize = 8
    let prefix = Array(text[..<21])  // two full blocks and 5 positions of a third
    let suffixes: [[Int32]] = [Array(text[21...]), [300, 301, 302, 303, 304, 305, 306]]
    let steps = 3
    let references = try suffixes.map {
      try BatchedDecoderTests.sequential(language, (prefix + $0, nil), steps: steps)
    }
    let cache = language.makePagedCache(blocks: 64, blockSize: blockSize)
    var blocks = ScrambledBlocks(blocks: 64)
    let shared = blocks.take(positions: prefix.count, blockSize: blockSize)
    let none = try language.forwardBatch(
      [DecoderBatchEntry(tokens: prefix, start: 0, blockTable: shared, wantsOutput: false)],
      cache: cache
    )
    #expect(none.isEmpty)
    let copy = blocks.take(1)
    cache.copyBlock(Int(shared[2]), to: Int(copy[0]))
    let heads = [shared, Array(shared[..<2]) + copy]
    let tables = suffixes.indices.map {
      heads[$0]
        + blocks.take(
          positions: prefix.count + suffixes[$0].count + steps - 24,
          blockSize: blockSize
        )
    }
    var entries = suffixes.indices.map {
      DecoderBatchEntry(tokens: suffixes[$0], start: prefix.count, blockTable: tables[$0])
    }
    var worst: Float = 0
    var generated = [[Int32]](repeating: [], count: suffixes.count)
    for step in 0...steps {
      let logits = try language.logitsBatch(entries, cache: cache)  // (2, V)
      let V = logits.count / suffixes.count
      for s in suffixes.indices {
        let current = row(logits, s, width: V)
        worst = max(worst, maxAbsDiff(current, references[s].logits[step]))
        generated[s].append(Int32(LlavaModel.argmax(current)))
        entries[s] = DecoderBatchEntry(
          tokens: [generated[s].last!],
          start: prefix.count + suffixes[s].count + step,
          blockTable: tables[s]
        )
      }
    }
    print("shared prefix vs separate sequences: max |Δ| = \(worst)")
    #expect(worst <= 1e-4)
    #expect(generated.map { Array($0.prefix(steps)) } == references.map(\.tokens))
  }

  /// The reward cases scored together (each with its own blocks, then sharing the image
  /// prompt's blocks) equal `RewardModel.score` of each and the transformers scores.
  @Test func scoresBatchMatchesSeparateScores() throws {
    let model = RewardModel(
      weights: try LlavaWeights(directory: Fixtures.path("tiny-llava-reward"))
    )
    let image = try model.imageEmbeddings(pixels: try Fixtures.pixels())
    let cases = try Fixtures.json("reward.json")["cases"] as? [[String: Any]] ?? []
    let sequences = cases.map { Fixtures.ints($0["input_ids"]) }
    let separate = try sequences.map { try model.score(tokens: $0, imageEmbeddings: image) }
    let expected = try Fixtures.floats("reward.safetensors", "scores")
    let blockSize = 16
    let cache = model.language.makePagedCache(blocks: 99, blockSize: blockSize)
    var blocks = ScrambledBlocks(blocks: 99)
    let together = try model.scoresBatch(
      sequences.map {
        DecoderBatchEntry(
          tokens: $0,
          start: 0,
          blockTable: blocks.take(positions: $0.count, blockSize: blockSize),
          image: (image, 0)
        )
      },
      cache: cache
    )
    // The common prompt (with the image) once, then only the candidates' own tokens.
    var common = 0
    while sequences.allSatisfy({ $0.count > common && $0[common] == sequences[0][common] }) {
      common += 1
    }
    let prompt = blocks.take(positions: common, blockSize: blockSize)
    _ = try model.scoresBatch(
      [
        DecoderBatchEntry(
          tokens: Array(sequences[0][..<common]),
          start: 0,
          blockTable: prompt,
          image: (image, 0),
          wantsOutput: false
        )
      ],
      cache: cache
    )
    let full = common / blockSize
    let entries = sequences.map { tokens in
      let own = blocks.take(positions: tokens.count - full * blockSize, blockSize: blockSize)
      if common % blockSize != 0 { cache.copyBlock(Int(prompt[full]), to: Int(own[0])) }
      return DecoderBatchEntry(
        tokens: Array(tokens[common...]),
        start: common,
        blockTable: Array(prompt[..<full]) + own
      )
    }
    let shared = try model.scoresBatch(entries, cache: cache)
    let delta = maxAbsDiff(together, separate)
    let sharedDelta = maxAbsDiff(shared, separate)
    let referenceDelta = maxAbsDiff(together, expected)
    print(
      "reward scoresBatch vs score: max |Δ| = \(delta), shared prompt \(sharedDelta), "
        + "vs transformers \(referenceDelta)"
    )
    #expect(delta <= 1e-4)
    #expect(sharedDelta <= 1e-4)
    #expect(referenceDelta <= 1e-4)
  }

  @Test func badEntriesAreRejectedBeforeRunning() throws {
    let model = LlavaModel(weights: try Fixtures.policy.get())
    let language = model.language
    let cache = language.makePagedCache(blocks: 4, blockSize: 8)
    let image = try model.imageEmbeddings(pixels: try Fixtures.pixels())  // (16, C)
    let imageToken = Int32(model.weights.config.imageTokenIndex)
    func rejection(_ entry: DecoderBatchEntry) -> ModelError? {
      do {
        _ = try language.forwardBatch([entry], cache: cache)
        return nil
      } catch { return error }
    }
    #expect(rejection(DecoderBatchEntry(tokens: [], start: 0, blockTable: [0])) == .emptyInput)
    #expect(
      rejection(DecoderBatchEntry(tokens: [641], start: 0, blockTable: [0]))
        == .tokenOutOfRange(token: 641, vocabulary: 641)
    )
    #expect(
      rejection(DecoderBatchEntry(tokens: [1, 2], start: 7, blockTable: [0]))
        == .blockTableTooShort(needed: 9, covered: 8)
    )
    #expect(
      rejection(DecoderBatchEntry(tokens: [1], start: 0, blockTable: [4]))
        == .blockOutOfRange(block: 4, blocks: 4)
    )
    #expect(
      rejection(
        DecoderBatchEntry(tokens: [1], start: 256, blockTable: Array(repeating: 0, count: 33))
      )
        == .contextOverflow(needed: 257, capacity: 256)
    )
    #expect(
      rejection(DecoderBatchEntry(tokens: [imageToken], start: 0, blockTable: [0]))
        == .imageTokenCountMismatch(tokens: 1, features: 0)
    )
    #expect(
      rejection(
        DecoderBatchEntry(
          tokens: [imageToken, imageToken],
          start: 0,
          blockTable: [0],
          image: (image, 15)
        )
      ) == .imageRowsOutOfRange(first: 15, count: 2, rows: 16)
    )
    #expect(
      rejection(DecoderBatchEntry(tokens: [1], start: -1, blockTable: [0])) == .negativeStart(-1)
    )
  }
}
