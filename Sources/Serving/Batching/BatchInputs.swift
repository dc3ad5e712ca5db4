// Turning a scheduler step plan into decoder batch entries, shared by the policy and reward
// executors: each entry's tokens, its block table, and the image rows its positions cover.
// Images are normally encoded before a sequence joins (ImageEncoder); a sequence whose features
// were not ready (e.g. evicted from the cache after its request was checked) gets them here, on
// the scheduler thread, once per image per step however many sequences carry it.
import Imaging
import Models
import Scheduler
import ServingTypes

/// A sequence the executors feed to the decoder.
protocol BatchSequence: AnyObject {
  var id: SequenceID { get }
  /// The prefix-sharing keys of the prompt's KV blocks (`SequenceKeys`).
  var promptKeys: [UInt64] { get }
  /// Prompt (with each image token repeated once per feature row), then sampled tokens.
  var tokens: [Int32] { get }
  var promptCount: Int { get }
  var images: [PreparedImage] { get }
  var imageTokenId: Int32 { get }
  /// The projected rows of all images, in order, once encoded.
  var imageEmbeddings: [Float]? { get set }
  func markStarted()
  /// Ends the client's request with `error` (the scheduler still ends the sequence).
  func fail(_ error: any Error)
  /// The policy version's adapter the sequence's rows run with (nil = base weights alone).
  var adapter: (any PolicyAdapter)? { get }
}

extension BatchSequence {
  var adapter: (any PolicyAdapter)? { nil }
}

enum BatchInputs {
  /// One step's forward, shared by the executors: builds the entries, fails the sequences
  /// whose images cannot be encoded, runs `forward` over the rest and returns, per plan entry,
  /// whether it ran, and the output rows (one per entry that produces output, in order). When
  /// the forward itself fails (a bug: inputs were checked when the requests came in) every
  /// sequence of the step fails and nil is returned.
  static func run<Sequence: BatchSequence>(
    _ plan: StepPlan,
    sequences found: [Sequence?],
    features: ImageFeatures,
    encode: ([Float]) throws(ModelError) -> [Float],
    forward: ([DecoderBatchEntry]) throws(ModelError) -> [Float]
  ) -> (included: [Bool], rows: [Float])? {
    let (entries, included, failed) = entries(
      plan,
      sequences: found,
      features: features,
      encode: encode
    )
    for (index, error) in failed {
      found[index]?.fail(BackendError(.invalidArgument, "images: \(error)"))
    }
    guard !entries.isEmpty else { return nil }
    do { return (included, try forward(entries)) } catch {
      for (index, sequence) in found.enumerated() where included[index] {
        sequence?.fail(BackendError(.internalError, "the batched forward failed: \(error)"))
      }
      return nil
    }
  }

  /// One decoder entry per plan entry whose sequence is known and whose images encode; the
  /// others are listed in `failed` with the error their client gets.
  static func entries(
    _ plan: StepPlan,
    sequences: [(any BatchSequence)?],
    features: ImageFeatures,
    encode: ([Float]) throws(ModelError) -> [Float]
  ) -> (entries: [DecoderBatchEntry], included: [Bool], failed: [Int: any Error]) {
    var entries: [DecoderBatchEntry] = []
    var included: [Bool] = []
    var failed: [Int: any Error] = [:]
    var encoded: [ImageFeatureKey: [Float]] = [:]
    for (index, (step, sequence)) in zip(plan.entries, sequences).enumerated() {
      guard let sequence else {
        included.append(false)
        continue
      }
      sequence.markStarted()
      let positions = step.positions
      let promptEnd = min(positions.upperBound, sequence.promptCount)
      let tokens = Array(sequence.tokens[positions])
      var image: (features: [Float], firstRow: Int)?
      if positions.lowerBound < promptEnd,
        sequence.tokens[positions.lowerBound..<promptEnd].contains(sequence.imageTokenId)
      {
        do {
          let rows = try imageRows(sequence, features: features, encoded: &encoded, encode)
          let before = sequence.tokens[0..<positions.lowerBound].count {
            $0 == sequence.imageTokenId
          }
          image = (rows, before)
        } catch {
          failed[index] = error
          included.append(false)
          continue
        }
      }
      var entry = DecoderBatchEntry(
        tokens: tokens,
        start: positions.lowerBound,
        blockTable: step.blockTable,
        image: image,
        wantsOutput: step.producesOutput
      )
      entry.promptEnd = sequence.promptCount
      // The sequence's policy version: its LoRA delta on this entry's rows (nil = base).
      entry.adapter = (sequence.adapter as? DecoderAdapterHandle)?.adapter
      entries.append(entry)
      included.append(true)
    }
    return (entries, included, failed)
  }

  /// The sequence's image rows, encoding (and caching) the images not yet known.
  static func imageRows(
    _ sequence: any BatchSequence,
    features: ImageFeatures,
    encoded: inout [ImageFeatureKey: [Float]],
    _ encode: ([Float]) throws(ModelError) -> [Float]
  ) throws -> [Float] {
    if let rows = sequence.imageEmbeddings { return rows }
    var rows: [Float] = []
    for image in sequence.images {
      if let known = encoded[image.key] {
        rows += known
        continue
      }
      let features = try features.embeddings(image, encode: encode)
      encoded[image.key] = features
      rows += features
    }
    sequence.imageEmbeddings = rows
    return rows
  }
}
