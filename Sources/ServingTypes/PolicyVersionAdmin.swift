// The native side of the Admin policy-version RPCs: what the service hands to the daemon's
// version registry, and what comes back. No proto types here; errors are `BackendError`s
// (NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, INVALID_ARGUMENT, UNAVAILABLE).

/// One policy version as the registry reports it.
public struct PolicyVersionInfo: Sendable, Equatable {
  /// The id of the base model alone; it always exists.
  public static let baseID = "base"

  public var id: String
  /// The version it derives from ("" for the base).
  public var parent: String
  /// `base`, `config`, `admin` or `trainer`.
  public var source: String
  /// The PEFT adapter directory on the server (nil for the base).
  public var adapterPath: String?
  public var createdUnixMs: Int64
  /// Bytes of adapter weights held in memory (0 for the base).
  public var adapterBytes = 0

  public init(
    id: String,
    parent: String,
    source: String,
    adapterPath: String?,
    createdUnixMs: Int64
  ) {
    self.id = id
    self.parent = parent
    self.source = source
    self.adapterPath = adapterPath
    self.createdUnixMs = createdUnixMs
  }

  /// Why `id` cannot name a version (nil when it can): 1 to 128 characters of letters,
  /// digits, `.`, `_`, `-` and `:`.
  public static func problem(withID id: String) -> String? {
    if id.isEmpty { return "is empty" }
    if id.utf8.count > 128 { return "is longer than 128 characters" }
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:")
    if let bad = id.first(where: { !allowed.contains($0) }) {
      return "has the character '\(bad)'; use letters, digits, '.', '_', '-' and ':'"
    }
    return nil
  }
}

/// The versions and which one is promoted.
public struct PolicyVersionListing: Sendable, Equatable {
  /// Newest first.
  public var versions: [PolicyVersionInfo]
  public var promoted: String

  public init(versions: [PolicyVersionInfo], promoted: String) {
    self.versions = versions
    self.promoted = promoted
  }
}

/// A change of the promoted version.
public struct PromotionChange: Sendable, Equatable {
  public var previous: String
  public var promoted: String

  public init(previous: String, promoted: String) {
    self.previous = previous
    self.promoted = promoted
  }
}

/// The daemon's policy-version registry, as the Admin service drives it.
public protocol PolicyVersionAdmin: Sendable {
  func list() throws(BackendError) -> PolicyVersionListing
  /// Loads and validates the PEFT adapter in `adapterPath` and serves it as `id`.
  func register(id: String, adapterPath: String, parent: String) throws(BackendError)
    -> PolicyVersionInfo
  func promote(_ id: String) throws(BackendError) -> PromotionChange
  /// "" = the version promoted before the current one.
  func rollback(to id: String) throws(BackendError) -> PromotionChange
  /// Stops serving `id` and frees its adapter; refused while it is promoted or in use.
  func retire(_ id: String) throws(BackendError)
  /// Writes version `id` ("" = the promoted one) as a PEFT adapter directory, atomically, at
  /// `path` (nil = a new directory under the daemon's state directory).
  func saveCheckpoint(version id: String, path: String?) throws(BackendError) -> SavedCheckpoint
}

/// A checkpoint written by `SaveCheckpoint`: durable once returned.
public struct SavedCheckpoint: Sendable, Equatable {
  public var id: String
  public var path: String
  public var version: String

  public init(id: String, path: String, version: String) {
    self.id = id
    self.path = path
    self.version = version
  }
}
