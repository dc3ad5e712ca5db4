// The adapter loader: a PEFT directory read, validated against the served base model and
// converted once into the engine's `DecoderAdapter` (Models), which the batched decoder applies
// to the rows of the sequences pinned to the version (Punica / S-LoRA style: the base product
// once for all rows, each version's delta on its own rows). Adapters of the language model's
// q/k/v/o/gate/up/down only: vision-side targets are refused, so image features stay shared.
// Reward-model versions are read the same way (`open`), with the trained score head they carry.
public import Checkpoints
import Foundation
public import Models
public import ServingTypes

/// A version's adapter as the engine applies it.
public final class DecoderAdapterHandle: PolicyAdapter {
  public let adapter: DecoderAdapter
  public let directory: String

  init(adapter: DecoderAdapter, directory: String) {
    self.adapter = adapter
    self.directory = directory
  }

  public var byteCount: Int { adapter.byteCount }
}

/// Loads PEFT adapter directories for the base model of `weights`.
public struct LoRAAdapterLoader: AdapterLoader {
  let weights: LlavaWeights

  public init(base weights: LlavaWeights) { self.weights = weights }

  public func load(directory: String) throws(BackendError) -> any PolicyAdapter {
    DecoderAdapterHandle(
      adapter: try Self.open(directory: directory, base: weights).adapter,
      directory: directory
    )
  }

  /// Reads and validates the PEFT directory for `base`: its LoRA and, for a reward model, the
  /// trained score head it carries (`modules_to_save: ["score"]`; refused on a policy base).
  static func open(
    directory: String,
    base weights: LlavaWeights
  ) throws(BackendError) -> (adapter: DecoderAdapter, head: RewardScoreHead?) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
      throw BackendError(.notFound, "the adapter directory \(directory) does not exist")
    }
    guard isDirectory.boolValue else {
      throw BackendError(.invalidArgument, "\(directory) is not a directory")
    }
    do {
      let file = try LoRAAdapter(directory: directory)
      let adapter = try DecoderAdapter(adapter: file, base: weights, directory: directory)
      return (adapter, file.head)
    } catch {
      throw BackendError(.invalidArgument, "the adapter in \(directory) cannot be used: \(error)")
    }
  }
}
