// The adapter loader of today: a PEFT directory parsed and validated by `Checkpoints`'
// `LoRAAdapter` against the base checkpoint the runner serves. The handle keeps the parsed
// adapter (its tensors are views into the file). When the engine applies LoRA deltas per row,
// the loader makes the engine's adapter type instead; nothing else changes.
public import Checkpoints
import Foundation
public import Models
public import ServingTypes

/// A validated PEFT adapter (read-only).
public final class PEFTAdapterHandle: PolicyAdapter {
  public let adapter: LoRAAdapter
  public let directory: String

  init(adapter: LoRAAdapter, directory: String) {
    self.adapter = adapter
    self.directory = directory
  }

  public var byteCount: Int { adapter.deltas.reduce(0) { $0 + $1.a.byteCount + $1.b.byteCount } }
}

/// Loads PEFT adapter directories for the base model of `weights`.
public struct LoRAAdapterLoader: AdapterLoader {
  let checkpoint: LlavaCheckpoint

  public init(base weights: LlavaWeights) { self.checkpoint = weights.checkpoint }

  public func load(directory: String) throws(BackendError) -> any PolicyAdapter {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
      throw BackendError(.notFound, "the adapter directory \(directory) does not exist")
    }
    guard isDirectory.boolValue else {
      throw BackendError(.invalidArgument, "\(directory) is not a directory")
    }
    do {
      let adapter = try LoRAAdapter(directory: directory)
      try adapter.validate(against: checkpoint)
      return PEFTAdapterHandle(adapter: adapter, directory: directory)
    } catch {
      throw BackendError(.invalidArgument, "the adapter in \(directory) cannot be used: \(error)")
    }
  }
}
