// Reward-model versions from disk: a PEFT directory holding the LoRA and, with
// `modules_to_save: ["score"]`, the trained score head (what `DecoderAdapter.write(head:)` and
// PEFT's `save_pretrained` write), checked against this runner's reward model.
import Checkpoints
public import Models
public import ServingTypes

extension RewardRunner {
  /// Reads the adapter directory for `versions.register` or `versions.restore`: `.notFound`
  /// for a missing directory, `.invalidArgument` for an adapter that does not fit.
  public func loadVersion(directory: String) throws(BackendError) -> (
    adapter: DecoderAdapter, head: (weight: [Float], bias: Float?)?
  ) {
    let (adapter, head) = try LoRAAdapterLoader.open(directory: directory, base: model.weights)
    do { try model.check(adapter: adapter, head: head) } catch {
      throw BackendError(.invalidArgument, "the adapter in \(directory) cannot be used: \(error)")
    }
    return (adapter, head.map { ($0.weight, $0.bias) })
  }
}
