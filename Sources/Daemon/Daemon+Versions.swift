import Foundation
import Logging
import Services
// Policy versions at start-up and under Admin: the store's registry (versions, promotion stack)
// plus `policy_versions:` of the configuration, loaded into the policy runner's registry; the
// store is the registry's journal, so that a restart serves the same versions and promotes the
// same one. Without a store the versions live in memory only.
import Serving
import ServingTypes
import Store

extension Daemon {
  /// Registers the configured versions new to the store, promotes `promoted_policy_version` at
  /// the first start, loads every served version's adapter and fills the runner's registry.
  /// A configured id the store knows with another adapter directory, or a promoted version
  /// whose adapter cannot be loaded, stops the start.
  static func restoreVersions(
    _ runner: ModelRunner,
    store: (any PolicyVersionStore)?,
    _ configuration: DaemonConfiguration,
    logger: Logger
  ) throws {
    let base = runner.settings.policyVersion
    var records = try startup { () throws(StoreError) in try store?.policyVersions() ?? [] }
    var stack = try startup { () throws(StoreError) in try store?.promotionStack() ?? [] }
    if !records.contains(where: { $0.id == base }) {
      let record = PolicyVersionRecord(
        id: base,
        parent: "",
        source: .base,
        adapterPath: nil,
        createdUnixMs: nowMs()
      )
      records.insert(record, at: 0)
    }
    for entry in configuration.policyVersions {
      let path = absolutePath(entry.adapter)
      if let known = records.first(where: { $0.id == entry.id }) {
        if known.retiredUnixMs != nil {
          logger.notice(
            "configured policy version is retired: not served",
            metadata: ["version": "\(entry.id)"]
          )
        } else if known.adapterPath != path {
          throw ConfigurationError(
            "'policy_versions': '\(entry.id)' is registered with the adapter \(known.adapterPath ?? "-"), the configuration gives \(path); a version never changes, so give the new adapter a new id"
          )
        }
        continue
      }
      let record = PolicyVersionRecord(
        id: entry.id,
        parent: entry.parent ?? base,
        source: .config,
        adapterPath: path,
        createdUnixMs: nowMs()
      )
      try startup { () throws(StoreError) in try store?.registerPolicyVersion(record) }
      records.append(record)
    }
    if stack.isEmpty {  // the first start: base, then the configured promotion
      let first = configuration.promotedPolicyVersion ?? base
      stack = first == base ? [base] : [base, first]
      for id in stack {
        try startup { () throws(StoreError) in try store?.promotePolicyVersion(id) }
      }
    }
    var served: [(info: PolicyVersionInfo, adapter: (any PolicyAdapter)?)] = []
    let loader = runner.adapterLoader
    for record in records where record.retiredUnixMs == nil {
      let info = PolicyVersionInfo(record)
      guard let path = record.adapterPath else {
        served.append((info, nil))
        continue
      }
      do { served.append((info, try loader.load(directory: path))) } catch {
        if stack.last == record.id {
          throw ConfigurationError(
            "the promoted policy version '\(record.id)' cannot be served: \(error.message)"
          )
        }
        logger.error(
          "policy version not served: its adapter cannot be loaded",
          metadata: ["version": "\(record.id)", "error": "\(error.message)"]
        )
      }
    }
    let retired = Set(records.filter { $0.retiredUnixMs != nil }.map(\.id))
    runner.versions.restore(served, retired: retired, stack: stack)
    logger.notice(
      "policy versions",
      metadata: [
        "served": "\(served.map(\.info.id).joined(separator: " "))",
        "promoted": "\(runner.versions.promoted)",
      ]
    )
  }

  private static func startup<T>(_ body: () throws(StoreError) -> T) throws(ConfigurationError)
    -> T
  {
    do { return try body() } catch {
      throw ConfigurationError("the policy versions in the feedback store: \(error.message)")
    }
  }

  static func absolutePath(_ path: String) -> String { PolicyVersions.absolutePath(path) }

  static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}

extension PolicyVersionInfo {
  init(_ record: PolicyVersionRecord) {
    self.init(
      id: record.id,
      parent: record.parent,
      source: record.source.rawValue,
      adapterPath: record.adapterPath,
      createdUnixMs: record.createdUnixMs
    )
  }
}

/// The store as the registry's journal.
struct StoreVersionJournal: PolicyVersionJournal {
  let store: any PolicyVersionStore

  func registered(_ version: PolicyVersionInfo) throws(BackendError) {
    let record = PolicyVersionRecord(
      id: version.id,
      parent: version.parent,
      source: PolicyVersionRecord.Source(rawValue: version.source) ?? .admin,
      adapterPath: version.adapterPath,
      createdUnixMs: version.createdUnixMs
    )
    try map { () throws(StoreError) in try store.registerPolicyVersion(record) }
  }

  func promoted(_ id: String) throws(BackendError) {
    try map { () throws(StoreError) in try store.promotePolicyVersion(id) }
  }

  func rolledBack(to id: String) throws(BackendError) {
    try map { () throws(StoreError) in try store.rollbackPolicyVersion(to: id) }
  }

  func retired(_ id: String) throws(BackendError) {
    try map { () throws(StoreError) in try store.retirePolicyVersion(id) }
  }

  private func map(_ body: () throws(StoreError) -> Void) throws(BackendError) {
    do { try body() } catch {
      let code: BackendError.Code =
        switch error.code {
        case .notFound: .notFound
        case .exists, .conflict: .alreadyExists
        case .precondition: .failedPrecondition
        case .full: .resourceExhausted
        case .unavailable, .cannotOpen: .unavailable
        }
      throw BackendError(code, "the version registry was not changed: \(error.message)")
    }
  }
}
