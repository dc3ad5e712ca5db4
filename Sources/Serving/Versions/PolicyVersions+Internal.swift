// Internal versions: the trainer's live policy, served to its own rollouts while it trains. They
// are kept in memory only (never journaled, so a restart forgets them), not listed by
// `listing()` (ListPolicyVersions shows what Admin can act on), never promoted or retired, and
// acquired only by their exact id. Removal never blocks and is never refused: the version stops
// taking new requests at once and its entry (and the registry's hold on its adapter) goes when
// the last request on it ends, so the trainer can remove the previous live version right after
// registering the next while that one's rollouts finish. An id, once used, is never used again
// (it salts the KV blocks of its sequences).
import Foundation
public import ServingTypes
import Synchronization

extension PolicyVersions {
  /// Serves `adapter` as the internal version `id`, derived from `parent` (a served or retired
  /// version; "" = none). ALREADY_EXISTS for an id used before (internal or not); NOT_FOUND for
  /// an unknown parent. Returns its info (source `internal`, no adapter path).
  @discardableResult
  public func registerInternal(
    id: String,
    parent: String,
    adapter: any PolicyAdapter
  ) throws(BackendError) -> PolicyVersionInfo {
    if let problem = PolicyVersionInfo.problem(withID: id) {
      throw BackendError(
        .invalidArgument,
        "internal policy version id '\(id.prefix(128))' \(problem)"
      )
    }
    var info = PolicyVersionInfo(
      id: id,
      parent: parent,
      source: PolicyVersionInfo.internalSource,
      adapterPath: nil,
      createdUnixMs: 0
    )
    try state.withLock { state throws(BackendError) in
      try Self.checkNew(info, state)
      state.entries[id] = Entry(info: info, adapter: adapter, isInternal: true)
      state.internalIDs.insert(id)
    }
    info.adapterBytes = adapter.byteCount
    return info
  }

  /// Stops serving the internal version `id` to new requests; the requests running or waiting
  /// on it finish on it, and it is dropped when the last one ends (`inUse(id)` counts them).
  /// Returns how many were still using it. NOT_FOUND for an unknown or already removed id;
  /// FAILED_PRECONDITION for a version that is not internal (retire those).
  @discardableResult
  public func removeInternal(id: String) throws(BackendError) -> Int {
    try state.withLock { state throws(BackendError) in
      guard var entry = state.entries[id], !entry.removing else { throw Self.unknown(id, state) }
      guard entry.isInternal else {
        throw BackendError(
          .failedPrecondition,
          "policy version '\(id)' is not internal; retire it through Admin"
        )
      }
      state.retired.insert(id)
      if entry.inUse == 0 {
        state.entries[id] = nil
      } else {
        entry.removing = true
        state.entries[id] = entry
      }
      return entry.inUse
    }
  }

  /// Registers `next` as an internal version, then removes `previous` (if given) as
  /// `removeInternal` does: the trainer's step from one live policy to the next. When the
  /// registration fails nothing is removed; when `previous` cannot be removed (unknown, not
  /// internal) the error is thrown with `next` registered.
  @discardableResult
  public func replaceInternal(
    _ previous: String?,
    with next: String,
    parent: String,
    adapter: any PolicyAdapter
  ) throws(BackendError) -> PolicyVersionInfo {
    let info = try registerInternal(id: next, parent: parent, adapter: adapter)
    if let previous { try removeInternal(id: previous) }
    return info
  }

  /// The internal versions served (removed ones still finishing their requests excluded).
  public func internalVersions() -> [PolicyVersionInfo] {
    state.withLock { state in
      state.entries.values.filter { $0.isInternal && !$0.removing }.map { entry in
        var info = entry.info
        info.adapterBytes = entry.adapter?.byteCount ?? 0
        return info
      }.sorted { $0.id < $1.id }
    }
  }

  /// Whether `id` names an internal version (served, finishing or removed).
  public func isInternal(_ id: String) -> Bool {
    state.withLock { $0.internalIDs.contains(id) }
  }
}

extension PolicyVersionInfo {
  /// The `source` of internal versions (`PolicyVersions.registerInternal`).
  public static let internalSource = "internal"
}

extension PolicyVersions {
  /// Whether `id` was ever used here (served, retired, internal or removed): a new version
  /// cannot take it.
  func isTaken(_ id: String) -> Bool {
    state.withLock { $0.entries[id] != nil || $0.retired.contains(id) }
  }

  /// `path` made absolute and standardized: how version adapter paths are recorded.
  public static func absolutePath(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.path
  }
}
