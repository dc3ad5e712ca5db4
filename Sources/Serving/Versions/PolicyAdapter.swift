// What a policy version adds to the base model, as serving sees it: an opaque adapter handle
// (today the validated PEFT adapter; the engine's LoRA type once the decoder applies it), made
// by a loader the daemon supplies, and a lease that pins a version for one request.
public import ServingTypes
import Synchronization

/// A version's adapter, opaque to the registry. Dropping the last reference frees its memory.
public protocol PolicyAdapter: AnyObject, Sendable {
  /// Bytes of weights it holds (reported by the registry).
  var byteCount: Int { get }
}

/// Loads the adapter in a directory and checks that it fits the base model. Errors say what
/// is wrong: `.notFound` for a missing directory, `.invalidArgument` for a bad adapter.
public protocol AdapterLoader: Sendable {
  func load(directory: String) throws(BackendError) -> any PolicyAdapter
}

/// One request's hold on a version: the version cannot be retired while a lease on it is
/// held. Released when the request's sequence ends (or when the lease is dropped).
public final class PolicyVersionLease: Sendable {
  public let id: String
  /// nil for the base model.
  public let adapter: (any PolicyAdapter)?
  /// Salts the sequence's prefix keys so that versions never share KV cache blocks.
  let salt: UInt64
  private let onRelease: @Sendable (String) -> Void
  private let released = Atomic<Bool>(false)

  init(
    id: String,
    adapter: (any PolicyAdapter)?,
    onRelease: @escaping @Sendable (String) -> Void
  ) {
    self.id = id
    self.adapter = adapter
    self.salt = SequenceKeys.salt("policy:" + id)
    self.onRelease = onRelease
  }

  /// Lets go of the version (once; later calls do nothing).
  public func release() {
    if !released.exchange(true, ordering: .acquiringAndReleasing) { onRelease(id) }
  }

  deinit { release() }
}

/// Makes each version's change durable (the daemon's store). Called with the registry locked,
/// after its checks and before the change is applied in memory: a failure leaves both as they
/// were.
public protocol PolicyVersionJournal: Sendable {
  func registered(_ version: PolicyVersionInfo) throws(BackendError)
  func promoted(_ id: String) throws(BackendError)
  func rolledBack(to id: String) throws(BackendError)
  func retired(_ id: String) throws(BackendError)
}
