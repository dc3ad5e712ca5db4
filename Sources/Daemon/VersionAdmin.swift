import Foundation
import Models
import Services
// Admin's policy-version RPCs over the policy runner's registry (UNAVAILABLE while the model
// loads). Registering and writing adapters are the runner's (ModelRunner+Publishing.swift), the
// same calls the trainer makes.
import Serving
import ServingTypes

struct VersionAdmin: PolicyVersionAdmin {
  let slot: LoadingSlot<ModelRunner>
  /// Where `SaveCheckpoint` writes when no path is given (`<state_directory>/checkpoints`).
  var checkpointRoot: String? = nil
  /// The base model's directory, written into each checkpoint's `base_model_name_or_path`.
  var baseModel: String? = nil

  func list() throws(BackendError) -> PolicyVersionListing {
    try slot.require().versions.listing()
  }

  func register(id: String, adapterPath: String, parent: String) throws(BackendError)
    -> PolicyVersionInfo
  {
    try slot.require().registerVersion(
      id: id,
      adapterPath: adapterPath,
      parent: parent,
      source: "admin"
    )
  }

  func promote(_ id: String) throws(BackendError) -> PromotionChange {
    try slot.require().promoteVersion(id)
  }

  func rollback(to id: String) throws(BackendError) -> PromotionChange {
    try slot.require().rollbackPromotion(to: id)
  }

  func retire(_ id: String) throws(BackendError) {
    try slot.require().versions.retire(id)
  }

  func saveCheckpoint(version id: String, path: String?) throws(BackendError) -> SavedCheckpoint {
    let runner = try slot.require()
    // The lease keeps the version from being retired while it is written.
    let lease = try runner.versions.acquire(id)
    defer { lease.release() }
    guard let handle = lease.adapter as? DecoderAdapterHandle else {
      throw BackendError(
        .failedPrecondition,
        "policy version '\(lease.id)' is the base model alone: there is no adapter to save"
      )
    }
    let checkpointID = "\(lease.id)-\(Daemon.nowMs())"
    guard let target = path ?? checkpointRoot.map({ $0 + "/" + checkpointID }) else {
      throw BackendError(.invalidArgument, "path is required: the daemon has no state directory")
    }
    try ModelRunner.writeAdapter(
      handle.adapter,
      to: target,
      version: lease.id,
      baseModelNameOrPath: baseModel
    )
    return SavedCheckpoint(id: checkpointID, path: target, version: lease.id)
  }
}
