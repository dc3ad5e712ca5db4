// The policy-version registry's durable half: which versions exist (id, parent, source, adapter
// directory, created, retired) and the promotion history, so that after a restart the same
// versions are served and the same one is promoted. Narrow enough for a PostgreSQL
// implementation. Each call returns once its change is durable.
//
// Promotions form a stack: promoting pushes, rolling back pops down to an earlier entry, retiring
// a version removes its entries (a retired version is never promoted again). The promoted
// version is the stack's top; the stack is empty only before the first promotion.

/// One registered policy version.
public struct PolicyVersionRecord: Sendable, Equatable {
  /// Where a version came from.
  public enum Source: String, Sendable, CaseIterable {
    /// The base model alone (always registered, never retired).
    case base
    /// The daemon's configuration (`policy_versions:`).
    case config
    /// `Admin.RegisterPolicyVersion`.
    case admin
    /// The online trainer.
    case trainer
  }

  /// The id of the base model alone, registered by the schema itself.
  public static let baseID = "base"

  public var id: String
  /// The version it derives from ("" for the base).
  public var parent: String
  public var source: Source
  /// The PEFT adapter directory (nil for the base).
  public var adapterPath: String?
  public var createdUnixMs: Int64
  /// When it was retired (nil while it is served).
  public var retiredUnixMs: Int64?

  public init(
    id: String,
    parent: String,
    source: Source,
    adapterPath: String?,
    createdUnixMs: Int64,
    retiredUnixMs: Int64? = nil
  ) {
    self.id = id
    self.parent = parent
    self.source = source
    self.adapterPath = adapterPath
    self.createdUnixMs = createdUnixMs
    self.retiredUnixMs = retiredUnixMs
  }
}

public protocol PolicyVersionStore: Sendable {
  /// Every version ever registered, retired ones included, oldest first.
  func policyVersions() throws(StoreError) -> [PolicyVersionRecord]

  /// The promotion stack, oldest first: the last entry is the promoted version.
  func promotionStack() throws(StoreError) -> [String]

  /// `.exists` when the id was registered before (ids are never reused, even once retired).
  func registerPolicyVersion(_ record: PolicyVersionRecord) throws(StoreError)

  /// Pushes `id` (a no-op when it is promoted already). `.notFound` for an unknown id,
  /// `.precondition` for a retired one.
  func promotePolicyVersion(_ id: String) throws(StoreError)

  /// Pops the stack down to the latest earlier entry of `id`. `.precondition` when `id` is not
  /// below the top.
  func rollbackPolicyVersion(to id: String) throws(StoreError)

  /// Marks `id` retired and removes it from the stack. `.notFound` for an unknown id,
  /// `.precondition` while it is promoted (or for the base).
  func retirePolicyVersion(_ id: String) throws(StoreError)
}
