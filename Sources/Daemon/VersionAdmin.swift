import Foundation
import Models
import Services
// Admin's policy-version RPCs over the policy runner's registry (UNAVAILABLE while the model
// loads). Registering loads and validates the adapter before the registry sees it.
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
    let runner = try slot.require()
    if runner.versions.listing().versions.contains(where: { $0.id == id }) {
      throw BackendError(.alreadyExists, "policy version '\(id)' exists")
    }
    let path = Daemon.absolutePath(adapterPath)
    let adapter = try runner.adapterLoader.load(directory: path)
    let info = PolicyVersionInfo(
      id: id,
      parent: parent.isEmpty ? runner.settings.policyVersion : parent,
      source: "admin",
      adapterPath: path,
      createdUnixMs: Daemon.nowMs()
    )
    try runner.versions.register(info, adapter: adapter)
    var registered = info
    registered.adapterBytes = adapter.byteCount
    return registered
  }

  func promote(_ id: String) throws(BackendError) -> PromotionChange {
    try slot.require().versions.promote(id)
  }

  func rollback(to id: String) throws(BackendError) -> PromotionChange {
    try slot.require().versions.rollback(to: id)
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
    if FileManager.default.fileExists(atPath: target) {
      throw BackendError(.alreadyExists, "\(target) exists; a checkpoint never overwrites one")
    }
    do {
      try FileManager.default.createDirectory(
        atPath: (target as NSString).deletingLastPathComponent,
        withIntermediateDirectories: true
      )
      try handle.adapter.write(to: target, baseModelNameOrPath: baseModel)
    } catch {
      let message = "cannot write the checkpoint of '\(lease.id)' to \(target): \(error)"
      let full = "\(error)".contains("No space left")
      throw BackendError(full ? .resourceExhausted : .unavailable, message)
    }
    return SavedCheckpoint(id: checkpointID, path: target, version: lease.id)
  }
}
