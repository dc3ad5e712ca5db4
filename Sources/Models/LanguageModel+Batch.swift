// One decoder forward over many sequences at once (continuous batching). Every entry's new
// rows are concatenated into one `(M, C)` stream, so each linear layer is one matmul over M
// rows: one pass over the weights serves every sequence, which is what makes batched decode
// cheaper than sequences one by one (decode is bound by reading the weights). Only attention is
// per sequence: each entry's keys and values go to its own blocks of a `PagedKVCache`, and
// `PagedAttention` reads them back through its block table.
import Checkpoints
import Engine

/// One sequence's share of a batched forward: a prefill chunk or a decode step.
public struct DecoderBatchEntry: Sendable {
  /// Tokens at positions `start ..< start + tokens.count` (the image token id at image rows).
  public var tokens: [Int32]
  /// The first position computed: positions before it are already in the sequence's blocks.
  public var start: Int
  /// Physical blocks covering positions `0 ..< start + tokens.count`, in order.
  public var blockTable: [Int32]
  /// The sequence's projected image features `(N, C)`, and the feature row of this chunk's
  /// first image token (a chunk may start in the middle of the image).
  public var image: (features: [Float], firstRow: Int)?
  /// Return the final hidden state (or logits, or score) of this entry's last position.
  public var wantsOutput: Bool
  /// Where the prompt ends: tokens at positions from here on were sampled, and an image token
  /// id among them is an ordinary token (transformers only splices image features into the
  /// prompt, and embeds a sampled image token from the table like any other).
  public var promptEnd = Int.max
  /// The policy version's LoRA adapter set; nil = the base weights alone. The entry's blocks
  /// must hold keys and values computed with the same adapter (prefix sharing is per version).
  public var adapter: DecoderAdapter?

  /// Whether the token at `index` of this entry is an image row.
  func isImageRow(_ index: Int, imageToken: Int32) -> Bool {
    tokens[index] == imageToken && start + index < promptEnd
  }

  public init(
    tokens: [Int32],
    start: Int,
    blockTable: [Int32],
    image: (features: [Float], firstRow: Int)? = nil,
    wantsOutput: Bool = true,
    adapter: DecoderAdapter? = nil
  ) {
    self.tokens = tokens
    self.start = start
    self.blockTable = blockTable
    self.image = image
    self.wantsOutput = wantsOutput
    self.adapter = adapter
  }
}

extension LanguageModel {
  /// Runs every entry's tokens as one `(M, C)` stream (`M = Σ tokens.count`), writing their keys
  /// and values into `cache` through each entry's block table, and returns the final-norm hidden
  /// states of the last position of each entry with `wantsOutput`, `(R, C)` in entry order.
  /// Entries must not write to the same block positions (shared prefix blocks are only read).
  public func forwardBatch(
    _ entries: [DecoderBatchEntry],
    cache: PagedKVCache
  ) throws(ModelError) -> [Float] {
    try validateBatch(entries, cache: cache)
    let (C, NH, NKV, HS) = (
      config.hiddenSize, config.numAttentionHeads, config.numKeyValueHeads, config.headDim
    )
    let M = entries.reduce(0) { $0 + $1.tokens.count }
    guard M > 0 else { return [] }
    let imageToken = Int32(truncatingIfNeeded: weights.config.imageTokenIndex)
    var firstRows: [Int] = []  // (entries) row of each entry's first token in the stream
    var lookup: [Int32] = []  // (M) image rows embed token 0, then are overwritten
    var positions: [Int32] = []  // (M)
    for entry in entries {
      firstRows.append(lookup.count)
      lookup += entry.tokens.indices.map {
        entry.isImageRow($0, imageToken: imageToken) ? 0 : entry.tokens[$0]
      }
      positions += (0..<entry.tokens.count).map { Int32(entry.start + $0) }
    }
    let acts = DecoderActivations(config: config, T: M, keepAllLayers: false)
    lookup.withUnsafeBufferPointer {
      Embedding.forward(
        out: acts.stream(0),
        tokens: $0.baseAddress!,
        table: parameters.embed,
        BT: M,
        C: C
      )
    }
    for (e, entry) in entries.enumerated() {
      guard let image = entry.image else { continue }
      var row = image.firstRow
      for t in entry.tokens.indices where entry.isImageRow(t, imageToken: imageToken) {
        image.features.withUnsafeBufferPointer {
          (acts.stream(0) + (firstRows[e] + t) * C).update(
            from: $0.baseAddress! + row * C,
            count: C
          )
        }
        row += 1
      }
    }
    let adapters = Self.adapterRows(entries, firstRows: firstRows)
    let rowSize = NKV * HS
    let decoding = entries.indices.filter { entries[$0].tokens.count == 1 }
    let prefilling = entries.indices.filter { entries[$0].tokens.count != 1 }
    positions.withUnsafeBufferPointer { p in
      for l in 0..<config.numHiddenLayers {
        layerForward(l, acts: acts, positions: p.baseAddress!, adapters: adapters) { a in
          let (keyPool, valuePool) = (cache.keys(layer: l), cache.values(layer: l))
          // Every entry's rows are stored before any entry attends, so an entry may read blocks
          // another entry of this batch wrote in this layer.
          for (e, entry) in entries.enumerated() {
            for t in entry.tokens.indices {
              let position = entry.start + t
              let block = Int(entry.blockTable[position / cache.blockSize])
              let slot = (block * cache.blockSize + position % cache.blockSize) * rowSize
              let row = (firstRows[e] + t) * rowSize
              (keyPool + slot).update(from: a.k + row, count: rowSize)
              (valuePool + slot).update(from: a.v + row, count: rowSize)
            }
          }
          func attend(_ e: Int) {
            entries[e].blockTable.withUnsafeBufferPointer { table in
              PagedAttention.forward(
                out: a.attn + firstRows[e] * NH * HS,  // (T_e, NH, HS)
                q: a.q + firstRows[e] * NH * HS,  // (T_e, NH, HS)
                keyPool: keyPool,
                valuePool: valuePool,
                blockTable: table.baseAddress!,
                blockSize: cache.blockSize,
                past: entries[e].start,
                T: entries[e].tokens.count,
                NH: NH,
                NKV: NKV,
                HS: HS
              )
            }
          }
          // Decode rows: one fork for all of them, each sequence's heads on one thread (the
          // nested parallelFor runs serially), instead of a fork and a join per sequence.
          ThreadPool.current.parallelFor(decoding.count) { range in
            for i in range { attend(decoding[i]) }
          }
          for e in prefilling { attend(e) }
        }
      }
    }
    // Only the output rows need the final norm.
    let outputs = entries.indices.filter { entries[$0].wantsOutput }
    let R = outputs.count
    let last = Tensor(shape: [max(R, 1), C])  // (R, C) last stream rows
    let normed = Tensor(shape: [max(R, 1), C])  // (R, C)
    let rstd = Tensor(shape: [max(R, 1)])  // (R)
    let stream = acts.stream(config.numHiddenLayers)  // (M, C)
    for (r, e) in outputs.enumerated() {
      let row = firstRows[e] + entries[e].tokens.count - 1
      (last.data + r * C).update(from: stream + row * C, count: C)
    }
    RMSNorm.forward(
      out: normed.data,
      rstd: rstd.data,
      in: last.data,
      weight: parameters.finalNorm,
      eps: Float(config.rmsNormEps),
      BT: R,
      C: C
    )
    return Array(UnsafeBufferPointer(start: normed.data, count: R * C))
  }

  /// `forwardBatch`, then the LM head on its `R` output rows: logits `(R, V)`.
  public func logitsBatch(
    _ entries: [DecoderBatchEntry],
    cache: PagedKVCache
  ) throws(ModelError) -> [Float] {
    let hidden = try forwardBatch(entries, cache: cache)  // (R, C)
    let (C, V) = (config.hiddenSize, config.vocabSize)
    let R = hidden.count / C
    guard R > 0 else { return [] }
    let out = Tensor(shape: [R, V])  // (R, V)
    hidden.withUnsafeBufferPointer {
      Matmul.forward(
        out: out.data,
        in: $0.baseAddress!,
        weight: lmHead,
        bias: nil,
        M: R,
        N: V,
        K: C
      )
    }
    return out.toArray()
  }

  /// The stream rows of each distinct adapter among `entries` (entries without one: the base),
  /// in the order the adapters first appear.
  static func adapterRows(_ entries: [DecoderBatchEntry], firstRows: [Int]) -> [AdapterRows] {
    var groups: [AdapterRows] = []
    for (e, entry) in entries.enumerated() {
      guard let adapter = entry.adapter else { continue }
      let rows = (0..<entry.tokens.count).map { Int32(firstRows[e] + $0) }
      if let g = groups.firstIndex(where: { $0.adapter === adapter }) {
        groups[g].rows += rows
      } else {
        groups.append(AdapterRows(adapter: adapter, rows: rows))
      }
    }
    return groups
  }

  /// Checks every entry against the vocabulary, its image, its block table and the context
  /// length, before any kernel runs.
  func validateBatch(_ entries: [DecoderBatchEntry], cache: PagedKVCache) throws(ModelError) {
    precondition(
      cache.layers == config.numHiddenLayers && cache.NKV == config.numKeyValueHeads
        && cache.HS == config.headDim,
      "the paged KV cache was made for another model"
    )
    let C = config.hiddenSize
    let imageToken = Int32(truncatingIfNeeded: weights.config.imageTokenIndex)
    for entry in entries {
      guard !entry.tokens.isEmpty else { throw .emptyInput }
      try checkAdapter(entry.adapter)
      guard entry.start >= 0 else { throw .negativeStart(entry.start) }
      let imageTokens = try countImageRows(entry.tokens) {
        entry.isImageRow($0, imageToken: imageToken)
      }
      if let image = entry.image {
        guard image.features.count % C == 0 else {
          throw .imageFeatureWidthMismatch(width: C, count: image.features.count)
        }
        let rows = image.features.count / C
        guard image.firstRow >= 0, image.firstRow + imageTokens <= rows else {
          throw .imageRowsOutOfRange(first: image.firstRow, count: imageTokens, rows: rows)
        }
      } else if imageTokens > 0 {
        throw .imageTokenCountMismatch(tokens: imageTokens, features: 0)
      }
      let end = entry.start + entry.tokens.count
      guard end <= config.maxPositionEmbeddings else {
        throw .contextOverflow(needed: end, capacity: config.maxPositionEmbeddings)
      }
      let needed = (end + cache.blockSize - 1) / cache.blockSize
      guard entry.blockTable.count >= needed else {
        throw .blockTableTooShort(needed: end, covered: entry.blockTable.count * cache.blockSize)
      }
      for block in entry.blockTable.prefix(needed) where block < 0 || Int(block) >= cache.blocks {
        throw .blockOutOfRange(block: block, blocks: cache.blocks)
      }
    }
  }
}
