// How policy versions come to be served, for Admin and the trainer alike (one place for each
// rule): a PEFT directory registered as a persistent, journaled version (Admin's
// RegisterPolicyVersion, source `admin`; the trainer's publications, source `trainer`); an
// adapter written as a PEFT directory, atomically and never over an existing one (Admin's
// SaveCheckpoint, the trainer's publications); and the trainer's internal live versions.
// Promotion and rollback go through the registry's journal whoever calls them (Admin, the
// trainer's guard).
import Foundation
public import Models
public import ServingTypes

extension ModelRunner {
  /// Loads and validates the PEFT adapter in `adapterPath` (made absolute) and serves it as the
  /// persistent version `id`, journaled with `source` and `parent` ("" = the base version), so
  /// that a restart serves it again. INVALID_ARGUMENT for a bad id or adapter, NOT_FOUND for a
  /// missing directory or unknown parent, ALREADY_EXISTS for an id used before. The returned
  /// info carries the adapter's bytes.
  public func registerVersion(
    id: String,
    adapterPath: String,
    parent: String,
    source: String
  ) throws(BackendError) -> PolicyVersionInfo {
    try Self.checkNewID(id, versions)
    let path = PolicyVersions.absolutePath(adapterPath)
    let adapter = try adapterLoader.load(directory: path)
    var info = PolicyVersionInfo(
      id: id,
      parent: parent.isEmpty ? settings.policyVersion : parent,
      source: source,
      adapterPath: path,
      createdUnixMs: Self.nowMs()
    )
    try versions.register(info, adapter: adapter)
    info.adapterBytes = adapter.byteCount
    return info
  }

  /// Publishes a trained adapter as an immutable version: writes it as the PEFT directory
  /// `<root>/<id>` (atomically; `root` is created if needed; an existing directory is never
  /// overwritten), then registers it from there as `registerVersion` does with source
  /// `trainer`, so that what is served is what a restart loads. A failed registration removes
  /// the directory it wrote. Not promoted: `promoteVersion(id)`.
  @discardableResult
  public func publishVersion(
    id: String,
    parent: String,
    adapter: DecoderAdapter,
    root: String,
    baseModelNameOrPath: String? = nil
  ) throws(BackendError) -> PolicyVersionInfo {
    try Self.checkNewID(id, versions)
    if id == "." || id == ".." {
      throw BackendError(.invalidArgument, "policy version id '\(id)' cannot name a directory")
    }
    let path = PolicyVersions.absolutePath(root + "/" + id)
    try Self.writeAdapter(adapter, to: path, version: id, baseModelNameOrPath: baseModelNameOrPath)
    do {
      return try registerVersion(id: id, adapterPath: path, parent: parent, source: "trainer")
    } catch {
      try? FileManager.default.removeItem(atPath: path)
      throw error
    }
  }

  /// Makes `id` the version served for "" (`PolicyVersions.promote`: journaled, as Admin's
  /// PromotePolicy). Internal versions are refused.
  @discardableResult
  public func promoteVersion(_ id: String) throws(BackendError) -> PromotionChange {
    try versions.promote(id)
  }

  /// Promotes again the version promoted before the current one, or `id` (`PolicyVersions
  /// .rollback`: journaled, as Admin's RollbackPolicy).
  @discardableResult
  public func rollbackPromotion(to id: String = "") throws(BackendError) -> PromotionChange {
    try versions.rollback(to: id)
  }

  /// Writes `adapter` as a new PEFT directory at `path` (parents created). ALREADY_EXISTS when
  /// `path` exists, RESOURCE_EXHAUSTED when the disk is full, UNAVAILABLE for other I/O errors.
  public static func writeAdapter(
    _ adapter: DecoderAdapter,
    to path: String,
    version: String,
    baseModelNameOrPath: String?
  ) throws(BackendError) {
    if FileManager.default.fileExists(atPath: path) {
      throw BackendError(.alreadyExists, "\(path) exists; an adapter is never written over one")
    }
    do {
      try FileManager.default.createDirectory(
        atPath: (path as NSString).deletingLastPathComponent,
        withIntermediateDirectories: true
      )
      try adapter.write(to: path, baseModelNameOrPath: baseModelNameOrPath)
    } catch {
      let message = "cannot write the adapter of '\(version)' to \(path): \(error)"
      let full = "\(error)".contains("No space left")
      throw BackendError(full ? .resourceExhausted : .unavailable, message)
    }
  }

  /// Serves `adapter` as the internal version `id` (`PolicyVersions.registerInternal`): the
  /// trainer's live policy, for its rollouts pinned to `id`. INVALID_ARGUMENT for an adapter
  /// made for another decoder.
  @discardableResult
  public func registerInternal(
    id: String,
    parent: String,
    adapter: DecoderAdapter
  ) throws(BackendError) -> PolicyVersionInfo {
    do { try model.language.checkAdapter(adapter) } catch {
      throw BackendError(.invalidArgument, "internal policy version '\(id)': \(error)")
    }
    return try versions.registerInternal(
      id: id,
      parent: parent,
      adapter: DecoderAdapterHandle(adapter: adapter, directory: adapter.directory ?? "")
    )
  }

  /// `PolicyVersions.removeInternal`: the version takes no new requests and goes when the
  /// requests on it end; returns how many still use it.
  @discardableResult
  public func removeInternal(id: String) throws(BackendError) -> Int {
    try versions.removeInternal(id: id)
  }

  static func checkNewID(_ id: String, _ versions: PolicyVersions) throws(BackendError) {
    if let problem = PolicyVersionInfo.problem(withID: id) {
      throw BackendError(.invalidArgument, "policy version id '\(id.prefix(128))' \(problem)")
    }
    if versions.isTaken(id) {
      throw BackendError(.alreadyExists, "policy version '\(id)' exists or was used before")
    }
  }

  static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}
