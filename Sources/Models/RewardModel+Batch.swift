// Reward scoring over a batch of sequences in one decoder pass (see LanguageModel+Batch): the
// candidates of one prompt can share the prompt's KV blocks and only run their own suffixes.
import Checkpoints
import Engine

extension RewardModel {
  /// Runs `entries` through the decoder (keys and values into `cache`) and returns the score of
  /// each entry with `wantsOutput`, `(R)` in entry order: the score head on the final hidden
  /// state of the entry's last position, as `score(tokens:imageEmbeddings:)`.
  public func scoresBatch(
    _ entries: [DecoderBatchEntry],
    cache: PagedKVCache
  ) throws(ModelError) -> [Float] {
    let hidden = try language.forwardBatch(entries, cache: cache)  // (R, C)
    let C = weights.config.text.hiddenSize
    return (0..<(hidden.count / C)).map { r in
      score(lastHidden: Array(hidden[(r * C)..<((r + 1) * C)]), head: nil)
    }
  }
}
