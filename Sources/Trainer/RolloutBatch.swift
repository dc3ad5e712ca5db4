// A PPO step's rollout batch (issue 13 item 3: rollouts for stored RL prompts and preference
// prompts): unconsumed RL prompts first, then — with `preference_prompts` — the prompts of
// stored preferences after the run's cursor, oldest first. An RL prompt is consumed with the
// checkpoint after its step; a preference's prompt is never consumed (a reward-model update
// consumes the preference, whether before or after), the cursor moves past it instead, so each
// preference serves as a rollout prompt once per run. A preference with the same image and
// prompt as one of the guard's held-out RL prompts is passed over: the guard's prompts stay
// out of training.
import Store

/// A prompt of a rollout batch and where it came from.
struct RolloutCandidate: Sendable, Equatable {
  enum Source: Sendable, Equatable {
    /// An unconsumed RL prompt: consumed with the checkpoint after the step.
    case prompt
    /// A stored preference's prompt at this row: never consumed; the cursor moves past it.
    case preference(row: Int64)
  }

  let id: String
  let source: Source
  let record: PromptRecord

  init(id: String, source: Source, record: PromptRecord) {
    self.id = id
    self.source = source
    self.record = record
  }

  init(_ prompt: StoredPrompt) {
    self.init(id: prompt.id, source: .prompt, record: prompt.record)
  }

  init(_ prompt: PreferencePrompt) {
    self.init(id: prompt.id, source: .preference(row: prompt.row), record: prompt.record)
  }

  /// The image and the prompt's text: what makes two prompts the same question.
  var key: String { record.image.sha256 + "\n" + record.prompt }

  var preferenceRow: Int64? {
    if case .preference(let row) = source { return row }
    return nil
  }
}

enum RolloutBatch {
  /// A batch of `size`: `prompts` (unconsumed RL prompts, in order) first, then `preferences`
  /// (in row order) whose key is not one of `heldOut`; nil when they do not fill it.
  /// `cursor` is the row of the last preference looked at (taken or passed over; nil when
  /// none was): the next batch reads preferences after it.
  static func fill(
    size: Int,
    prompts: [RolloutCandidate],
    preferences: [RolloutCandidate],
    heldOut: Set<String>
  ) -> (batch: [RolloutCandidate], cursor: Int64?)? {
    var batch = Array(prompts.prefix(size))
    var cursor: Int64?
    for candidate in preferences where batch.count < size {
      guard let row = candidate.preferenceRow else { continue }
      cursor = row
      if !heldOut.contains(candidate.key) { batch.append(candidate) }
    }
    guard batch.count == size else { return nil }
    return (batch, cursor)
  }
}
