import Checkpoints
import Engine
import Models
import Testing

@Suite(.enabled(if: Fixtures.present, "Tests/Fixtures is absent"))
struct BatchedDecoderTests {
  static let blockSize = 8

  /// The prompts: the image case, the text case, and two shorter text prompts.
  static func prompts(_ model: LlavaModel) throws -> [(tokens: [Int32], image: [Float]?)] {
    let text = try DecoderTests.inputIds("text")
    return [
      (
        try DecoderTests.inputIds("image"), try model.imageEmbeddings(pixels: try Fixtures.pixels())
      ),
      (text, nil),
      (Array(text[..<20]) + [300, 301, 302], nil),
      (Array(text[..<5]), nil),
    ]
  }

  /// Each prompt alone on a contiguous cache, then `steps` greedy tokens one at a time: the
  /// tokens, and the logits of the prompt's last position and of each decode step.
  static func sequential(
    _ language: LanguageModel,
    _ prompt: (tokens: [Int32], image: [Float]?),
    steps: Int
  ) throws -> (tokens: [Int32], logits: [[Float]]) {
    var cache = language.makeCache()
    var logits = [
      try language.forward(tokens: prompt.tokens, imageEmbeddings: prompt.image, cache: &cache)
    ]
    var tokens: [Int32] = []
    for _ in 0..<steps {
      tokens.append(Int32(LlavaModel.argmax(logits.last!)))
      logits.append(try language.forward(tokens: [tokens.last!], cache: &cache))
    }
    return (tokens, logits)
  }

  /// All prompts prefilled in one batch, then every decode step batches one row per sequence;
  /// with fp32 products and, where the CPU has them, bf16 products. (The bf16 products of a
  /// row do not depend on the batch, but the batched attention sums in another order, and a
  /// ~1e-6 difference can tip an activation to the neighbouring bf16 value: logits then differ
  /// by bf16's resolution, ~1e-2 on this model's logits of magnitude ~9, not 1e-6.)
  @Test(arguments: BF16Products.isSupported ? [false, true] : [false])
  func batchedMatchesSequential(bf16: Bool) throws {
    let model = LlavaModel(weights: try (bf16 ? Fixtures.bf16Policy : Fixtures.policy).get())
    let language = model.language
    let prompts = try Self.prompts(model)
    let steps = 8
    let references = try prompts.map { try Self.sequential(language, $0, steps: steps) }
    let cache = language.makePagedCache(blocks: 128, blockSize: Self.blockSize)
    var blocks = ScrambledBlocks(blocks: 128)
    let tables = prompts.map {
      blocks.take(positions: $0.tokens.count + steps, blockSize: Self.blockSize)
    }
    var entries = prompts.indices.map {
      DecoderBatchEntry(
        tokens: prompts[$0].tokens,
        start: 0,
        blockTable: tables[$0],
        image: prompts[$0].image.map { ($0, 0) }
      )
    }
    var generated = [[Int32]](repeating: [], count: prompts.count)
    var worst: Float = 0
    for step in 0...steps {
      let logits = try language.logitsBatch(entries, cache: cache)  // (sequences, V)
      let V = logits.count / prompts.count
      for s in prompts.indices {
        let current = row(logits, s, width: V)
        worst = max(worst, maxAbsDiff(current, references[s].logits[step]))
        let next = Int32(LlavaModel.argmax(current))
        generated[s].append(next)
        entries[s] = DecoderBatchEntry(
          tokens: [next],
          start: prompts[s].tokens.count + step,
          blockTable: tables[s]
        )
      }
    }
    print(
      "batched vs sequential logits (prefill + \(steps) decode steps, bf16 \(bf16)): max |Δ| = \(worst)"
    )
    #expect(worst <= (bf16 ? 5e-2 : 1e-4))
    #expect(generated.map { Array($0.prefix(steps)) } == references.map(\.tokens))
  }

  /// The image prompt in chunks (cutting through the image rows) equals one-shot prefill.
  @Test(arguments: [[82], [5, 50, 7, 3, 17], [53, 1, 15, 13], [1, 81], [60, 22], [54, 28]])
  func chunkedPrefillEqualsOneShot(chunks: [Int]) throws {
    let model = LlavaModel(weights: try Fixtures.policy.get())
    let tokens = try DecoderTests.inputIds("image")
    #expect(chunks.reduce(0, +) == tokens.count)
    let image = try model.imageEmbeddings(pixels: try Fixtures.pixels())
    var contiguous = model.language.makeCache()
    let all = try model.prefill(  // (T, V)
      tokens: tokens,
      imageEmbeddings: image,
      cache: &contiguous,
      allPositions: true
    )
    let V = all.count / tokens.count
    let cache = model.language.makePagedCache(blocks: 32, blockSize: Self.blockSize)
    var blocks = ScrambledBlocks(blocks: 32)
    let table = blocks.take(positions: tokens.count + 1, blockSize: Self.blockSize)
    var start = 0
    var worst: Float = 0
    for size in chunks {
      let chunk = Array(tokens[start..<(start + size)])
      let imageToken = Int32(model.weights.config.imageTokenIndex)
      let firstRow = tokens[..<start].count { $0 == imageToken }
      let logits = try model.language.logitsBatch(
        [
          DecoderBatchEntry(
            tokens: chunk,
            start: start,
            blockTable: table,
            // Chunks without image tokens need no image.
            image: chunk.contains(imageToken) ? (image, firstRow) : nil
          )
        ],
        cache: cache
      )
      start += size
      worst = max(worst, maxAbsDiff(logits, row(all, start - 1, width: V)))
    }
    let next = Int32(LlavaModel.argmax(row(all, tokens.count - 1, width: V)))
    let decoded = try model.language.logitsBatch(
      [DecoderBatchEntry(tokens: [next], start: tokens.count, blockTable: table)],
      cache: cache
    )
    worst = max(worst, maxAbsDiff(decoded, try model.decode(token: next, cache: &contiguous)))
    print("chunked \(chunks) vs one-shot prefill: max |Δ| = \(worst)")
    #expect(worst <= 1e-4)
  }

  /// One entry per position of one sequence in one batch (each entry reads the keys the
  /// entries before it stored in the same layer): every position's logits, compared with the
  /// transformers reference.
  @Test(arguments: ["image", "text"])
  func referenceLogitsThroughBatchedPath(_ name: String) throws {
    let model = LlavaModel(weights: try Fixtures.policy.get())
    let tokens = try DecoderTests.inputIds(name)
    let image = name == "image" ? try model.imageEmbeddings(pixels: try Fixtures.pixels()) : nil
    let imageToken = Int32(model.weights.config.imageTokenIndex)
    let cache = model.language.makePagedCache(blocks: 16, blockSize: Self.blockSize)
    var blocks = ScrambledBlocks(blocks: 16)
    let table = blocks.take(positions: tokens.count, blockSize: Self.blockSize)
    let entries = tokens.indices.map { t in
      DecoderBatchEntry(
        tokens: [tokens[t]],
        start: t,
        blockTable: table,
        image: image.map { ($0, tokens[..<t].count { $0 == imageToken }) }
      )
    }
    let logits = try model.language.logitsBatch(entries, cache: cache)  // (T, V)
    let expected = try Fixtures.floats("policy.safetensors", name + ".logits")
    let delta = maxAbsDiff(logits, expected)
    // And the whole prompt as one entry: the last position.
    let fresh = model.language.makePagedCache(blocks: 16, blockSize: Self.blockSize)
    let last = try model.language.logitsBatch(
      [
        DecoderBatchEntry(tokens: tokens, start: 0, blockTable: table, image: image.map { ($0, 0) })
      ],
      cache: fresh
    )
    let lastDelta = maxAbsDiff(last, row(expected, tokens.count - 1, width: last.count))
    print(
      "\(name) reference logits via batch: max |Δ| = \(delta) (per position), \(lastDelta) (one entry)"
    )
    #expect(delta <= 1e-4)
    #expect(lastDelta <= 1e-4)
  }

  /// A sampled image token (past `promptEnd`) is an ordinary token: its row of the embedding
  /// table goes in, as transformers does after the prompt. The contiguous path can only splice
  /// rows, so it is given exactly that table row as the "image" row to compare against.
  @Test func aSampledImageTokenIsEmbeddedAsText() throws {
    let model = LlavaModel(weights: try Fixtures.policy.get())
    let language = model.language
    let prompt = try DecoderTests.inputIds("text")
    let imageToken = Int32(model.weights.config.imageTokenIndex)
    let C = model.weights.config.text.hiddenSize
    var tableRow = [Float](repeating: 0, count: C)
    tableRow.withUnsafeMutableBufferPointer {
      model.weights.weight(LlavaWeightNames.embedTokens).convertRows(
        Int(imageToken)..<Int(imageToken) + 1,
        into: $0.baseAddress!
      )
    }
    var contiguous = language.makeCache()
    _ = try language.forward(tokens: prompt, cache: &contiguous)
    let expected = try language.forward(
      tokens: [imageToken],
      imageEmbeddings: tableRow,
      cache: &contiguous
    )

    let cache = language.makePagedCache(blocks: 64, blockSize: Self.blockSize)
    var blocks = ScrambledBlocks(blocks: 64)
    let table = blocks.take(positions: prompt.count + 1, blockSize: Self.blockSize)
    _ = try language.logitsBatch(
      [DecoderBatchEntry(tokens: prompt, start: 0, blockTable: table)],
      cache: cache
    )
    var decode = DecoderBatchEntry(tokens: [imageToken], start: prompt.count, blockTable: table)
    // Without `promptEnd` it is taken for an image row and refused (no features given).
    #expect(throws: ModelError.self) { _ = try language.logitsBatch([decode], cache: cache) }
    decode.promptEnd = prompt.count
    let logits = try language.logitsBatch([decode], cache: cache)
    let worst = maxAbsDiff(logits, expected)
    print("sampled image token vs table row spliced in: max |Δ| = \(worst)")
    #expect(worst <= 1e-4)
  }
}
