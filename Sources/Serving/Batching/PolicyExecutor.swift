// The policy's side of continuous batching: the scheduler plans each step (which rows of which
// sequences, in which KV blocks); this executor runs the step as one batched decoder forward
// over the paged KV cache and samples a token for every sequence that asked for an output.
import Checkpoints
import Imaging
import Models
import Scheduler
import ServingTypes

/// Runs scheduler steps on the policy model. Used on the scheduler thread, except the
/// registry, which RPC tasks fill before submitting.
final class PolicyExecutor: RegisteringExecutor, @unchecked Sendable {
  let model: LlavaModel
  let cache: PagedKVCache
  let features: ImageFeatures
  let registry = SequenceRegistry<GenerationSequence>()

  init(model: LlavaModel, cache: PagedKVCache, features: ImageFeatures) {
    self.model = model
    self.cache = cache
    self.features = features
  }

  func encodeImage(_ pixels: [Float]) throws(ModelError) -> [Float] {
    try model.imageEmbeddings(pixels: pixels)
  }

  func execute(_ plan: StepPlan) -> [StepOutcome] {
    var outcomes = [StepOutcome](repeating: .finish, count: plan.entries.count)
    guard
      let (found, included, logits) = forward(
        plan,
        { entries throws(ModelError) in try model.language.logitsBatch(entries, cache: cache) }
      )
    else { return outcomes }
    let V = model.weights.config.text.vocabSize
    var row = 0
    for (index, step) in plan.entries.enumerated() where included[index] {
      guard let sequence = found[index] else { continue }
      if sequence.output.isTerminated {
        outcomes[index] = .finish
      } else if step.producesOutput {
        outcomes[index] = sequence.accept(logits: Array(logits[row * V..<(row + 1) * V]))
      } else {
        outcomes[index] = .none
      }
      if step.producesOutput { row += 1 }
    }
    return outcomes
  }

  func sequenceEnded(_ id: SequenceID, reason: EndReason) {
    registry.remove(id)?.end(BatchErrors.error(for: reason, what: "generation"))
  }

  func canAdvance(_ id: SequenceID) -> Bool {
    registry.sequence(id)?.canAdvance ?? true
  }
}
