import Services
// Admin's policy-version RPCs over the policy runner's registry (UNAVAILABLE while the model
// loads). Registering loads and validates the adapter before the registry sees it.
import Serving
import ServingTypes

struct VersionAdmin: PolicyVersionAdmin {
  let slot: LoadingSlot<ModelRunner>

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
}
