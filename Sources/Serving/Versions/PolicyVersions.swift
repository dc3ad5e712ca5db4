// The policy versions the runner serves: version id -> adapter handle (`base` = the base model
// alone, always there), which one is promoted, and how many sequences use each. A request takes
// a lease on its version when it arrives (pinned, or the promoted one at that moment) and keeps
// it until its sequence ends, so every running request finishes on the version it started with
// and a version in use cannot be retired. Promotions form a stack (rollback pops), mirrored by
// the journal (the store) so that a restart restores the same state. Internal versions (the
// trainer's live policy) live beside them in memory only: PolicyVersions+Internal.swift.
public import ServingTypes
import Synchronization

public final class PolicyVersions: Sendable {
  struct Entry {
    var info: PolicyVersionInfo
    var adapter: (any PolicyAdapter)?
    var inUse = 0
    /// An internal version (`registerInternal`): never journaled, listed or promoted.
    var isInternal = false
    /// Removed (`removeInternal`) while in use: refused to new requests, dropped at the last
    /// release.
    var removing = false
  }

  struct State {
    var entries: [String: Entry] = [:]
    /// Ids once served and since retired or removed (never reused: an id salts KV blocks).
    var retired: Set<String> = []
    /// Ids of internal versions, registered or removed.
    var internalIDs: Set<String> = []
    /// Promotions, oldest first; the last is promoted. Never empty.
    var stack: [String]
  }

  let state: Mutex<State>
  private let journal: (any PolicyVersionJournal)?

  /// A registry serving only `base`, promoted.
  public init(base: PolicyVersionInfo, journal: (any PolicyVersionJournal)? = nil) {
    var state = State(stack: [base.id])
    state.entries[base.id] = Entry(info: base, adapter: nil)
    self.state = Mutex(state)
    self.journal = journal
  }

  /// At start-up: adds versions restored from the store or the configuration (not journaled),
  /// marks `retired` ids and sets the promotion stack (versions unknown here are dropped from
  /// it; an empty result keeps the current promoted version).
  public func restore(
    _ versions: [(info: PolicyVersionInfo, adapter: (any PolicyAdapter)?)],
    retired: Set<String> = [],
    stack: [String]
  ) {
    state.withLock { state in
      for version in versions {
        state.entries[version.info.id] = Entry(info: version.info, adapter: version.adapter)
      }
      state.retired.formUnion(retired)
      let known = Self.collapse(stack.filter { state.entries[$0] != nil })
      if !known.isEmpty { state.stack = known }
    }
  }

  /// The version a request runs on: `requested`, or the promoted one for "".
  public func acquire(_ requested: String) throws(BackendError) -> PolicyVersionLease {
    try state.withLock { state throws(BackendError) in
      let id = requested.isEmpty ? state.stack[state.stack.count - 1] : requested
      guard var entry = state.entries[id], !entry.removing else {
        throw Self.unknown(id, state, field: "policy_version")
      }
      entry.inUse += 1
      state.entries[id] = entry
      return PolicyVersionLease(id: id, adapter: entry.adapter) { [weak self] id in
        self?.release(id)
      }
    }
  }

  private func release(_ id: String) {
    state.withLock { state in
      guard var entry = state.entries[id] else { return }
      entry.inUse -= 1
      state.entries[id] = entry.removing && entry.inUse == 0 ? nil : entry
    }
  }

  /// Every served version, newest first, and the promoted one. Internal versions are not
  /// listed (`internalVersions()`).
  public func listing() -> PolicyVersionListing {
    state.withLock { state in
      PolicyVersionListing(
        versions: state.entries.values.filter { !$0.isInternal }.map { entry in
          var info = entry.info
          info.adapterBytes = entry.adapter?.byteCount ?? 0
          return info
        }.sorted {
          ($0.createdUnixMs, $0.id) > ($1.createdUnixMs, $1.id)
        },
        promoted: state.stack[state.stack.count - 1]
      )
    }
  }

  /// The promoted version's id.
  public var promoted: String { state.withLock { $0.stack[$0.stack.count - 1] } }

  /// Sequences holding a lease on `id` (running or waiting).
  public func inUse(_ id: String) -> Int { state.withLock { $0.entries[id]?.inUse ?? 0 } }

  /// Serves a new version. ALREADY_EXISTS for an id served or retired before; NOT_FOUND for
  /// an unknown parent; FAILED_PRECONDITION for an internal parent (a restart would not know
  /// it).
  public func register(_ info: PolicyVersionInfo, adapter: any PolicyAdapter) throws(BackendError) {
    try state.withLock { state throws(BackendError) in
      try Self.checkNew(info, state)
      if state.internalIDs.contains(info.parent) {
        throw BackendError(
          .failedPrecondition,
          "parent_version '\(info.parent)' is internal: it is not kept across restarts"
        )
      }
      try journal?.registered(info)
      state.entries[info.id] = Entry(info: info, adapter: adapter)
    }
  }

  /// Makes `id` the version served for "" (a no-op when it is already).
  public func promote(_ id: String) throws(BackendError) -> PromotionChange {
    try state.withLock { state throws(BackendError) in
      guard let entry = state.entries[id], !entry.removing else { throw Self.unknown(id, state) }
      if entry.isInternal {
        throw BackendError(
          .failedPrecondition,
          "policy version '\(id)' is internal (the trainer's live policy) and cannot be promoted; publish it"
        )
      }
      let previous = state.stack[state.stack.count - 1]
      if previous != id {
        try journal?.promoted(id)
        state.stack.append(id)
      }
      return PromotionChange(previous: previous, promoted: id)
    }
  }

  /// Promotes `id` again, popping the promotions made after it; "" = the one before the
  /// current. FAILED_PRECONDITION when there is none, or `id` was not promoted before.
  public func rollback(to id: String) throws(BackendError) -> PromotionChange {
    try state.withLock { state throws(BackendError) in
      let current = state.stack[state.stack.count - 1]
      let below = state.stack.dropLast()
      let target: String
      if id.isEmpty {
        guard let last = below.last else {
          throw BackendError(
            .failedPrecondition,
            "no version was promoted before '\(current)': nothing to roll back to"
          )
        }
        target = last
      } else {
        guard state.entries[id] != nil else { throw Self.unknown(id, state) }
        if id == current {
          throw BackendError(.failedPrecondition, "policy version '\(id)' is already promoted")
        }
        guard below.contains(id) else {
          throw BackendError(
            .failedPrecondition,
            "policy version '\(id)' was not promoted before '\(current)'; use PromotePolicy"
          )
        }
        target = id
      }
      try journal?.rolledBack(to: target)
      if let at = state.stack.lastIndex(of: target) { state.stack.removeSubrange((at + 1)...) }
      return PromotionChange(previous: current, promoted: target)
    }
  }

  /// Stops serving `id` and drops its adapter. FAILED_PRECONDITION for the base, the promoted
  /// version, or one that running or waiting sequences use.
  public func retire(_ id: String) throws(BackendError) {
    try state.withLock { state throws(BackendError) in
      guard let entry = state.entries[id], !entry.removing else { throw Self.unknown(id, state) }
      if entry.isInternal {
        throw BackendError(
          .failedPrecondition,
          "policy version '\(id)' is internal: the trainer removes it"
        )
      }
      if entry.adapter == nil && entry.info.source == "base" {
        throw BackendError(.failedPrecondition, "the base version cannot be retired")
      }
      if state.stack.last == id {
        throw BackendError(
          .failedPrecondition,
          "policy version '\(id)' is promoted; promote or roll back to another first"
        )
      }
      if entry.inUse > 0 {
        throw BackendError(
          .failedPrecondition,
          "policy version '\(id)' is in use by \(entry.inUse) running or waiting request(s); retry when they finish"
        )
      }
      try journal?.retired(id)
      state.entries[id] = nil
      state.retired.insert(id)
      state.stack = Self.collapse(state.stack.filter { $0 != id })
    }
  }

  /// ALREADY_EXISTS for an id served, retired or removed before; NOT_FOUND for an unknown
  /// parent.
  static func checkNew(_ info: PolicyVersionInfo, _ state: State) throws(BackendError) {
    if state.entries[info.id] != nil || state.retired.contains(info.id) {
      let what = state.retired.contains(info.id) ? "was retired (ids are never reused)" : "exists"
      throw BackendError(.alreadyExists, "policy version '\(info.id)' \(what)")
    }
    if !info.parent.isEmpty, state.entries[info.parent] == nil,
      !state.retired.contains(info.parent)
    {
      throw BackendError(.notFound, "parent_version '\(info.parent)' is not registered")
    }
  }

  static func unknown(
    _ id: String,
    _ state: State,
    field: String = "policy version"
  ) -> BackendError {
    if state.retired.contains(id) || state.entries[id]?.removing == true {
      let what = state.internalIDs.contains(id) ? "removed" : "retired"
      return BackendError(.notFound, "\(field) '\(id.prefix(128))' is \(what)")
    }
    let known = state.entries.filter { !$0.value.isInternal }.keys.sorted().prefix(20)
      .joined(separator: ", ")
    return BackendError(
      .notFound,
      "\(field) '\(id.prefix(128))' is unknown; this daemon serves: \(known)"
    )
  }

  /// Consecutive repeats of one id collapsed.
  static func collapse(_ stack: [String]) -> [String] {
    var result: [String] = []
    for id in stack where result.last != id { result.append(id) }
    return result
  }
}
