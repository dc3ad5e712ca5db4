// The reward-model versions the reward runner serves: version id -> LoRA adapter + trained score
// head (the base version = the checkpoint alone, always there), and which one is current. A
// Score request takes a lease on the current version when it arrives and runs every candidate
// with that version's LoRA (in the shared batch, as policy versions: `DecoderBatchEntry.adapter`)
// and head, so a Score in flight when the trainer adopts a new version finishes on the one it
// started with and reports it. There are no pinned Score requests (the API has no field for
// one) and no promotion stack: the trainer's adoption rule decides, `setCurrent` applies.
public import Checkpoints
public import Models
public import ServingTypes
import Synchronization

/// One reward-model version as the registry reports it: the same record as a policy version's
/// (id, parent, source `base` / `config` / `admin` / `trainer`, adapter directory, creation
/// time; `adapterBytes` unused).
public typealias RewardModelVersionInfo = PolicyVersionInfo

/// One served reward-model version: immutable.
public final class RewardModelVersion: Sendable {
  public let info: RewardModelVersionInfo
  /// The LoRA on the backbone (nil: the base weights).
  public let adapter: DecoderAdapter?
  /// The trained score head (nil: the checkpoint's).
  public let head: RewardScoreHead?
  /// The adapter as the batch inputs carry it (`BatchSequence.adapter`).
  let handle: DecoderAdapterHandle?
  /// Salts the prefix keys so that versions never share KV cache blocks.
  let salt: UInt64

  init(info: RewardModelVersionInfo, adapter: DecoderAdapter?, head: RewardScoreHead?) {
    self.info = info
    self.adapter = adapter
    self.head = head
    handle = adapter.map { DecoderAdapterHandle(adapter: $0, directory: $0.directory ?? "") }
    salt = SequenceKeys.salt("reward:" + info.id)
  }
}

/// One Score request's hold on a version, released when the request ends (or when dropped).
public final class RewardModelVersionLease: Sendable {
  public let version: RewardModelVersion
  private let onRelease: @Sendable (String) -> Void
  private let released = Atomic<Bool>(false)

  init(_ version: RewardModelVersion, onRelease: @escaping @Sendable (String) -> Void) {
    self.version = version
    self.onRelease = onRelease
  }

  /// Lets go of the version (once; later calls do nothing).
  public func release() {
    if !released.exchange(true, ordering: .acquiringAndReleasing) { onRelease(version.info.id) }
  }

  deinit { release() }
}

public final class RewardModelVersions: Sendable {
  struct State {
    var entries: [String: (version: RewardModelVersion, inUse: Int)] = [:]
    var retired: Set<String> = []
    var current: String
  }

  private let state: Mutex<State>
  private let check: @Sendable (DecoderAdapter?, RewardScoreHead?) throws -> Void

  /// A registry serving only `base` (the checkpoint's LoRA-free backbone and head), current.
  /// `check` refuses an adapter or head that does not fit the served model.
  public init(
    base: RewardModelVersionInfo,
    check: @escaping @Sendable (DecoderAdapter?, RewardScoreHead?) throws -> Void = { _, _ in }
  ) {
    var state = State(current: base.id)
    state.entries[base.id] = (RewardModelVersion(info: base, adapter: nil, head: nil), 0)
    self.state = Mutex(state)
    self.check = check
  }

  /// The current version's info.
  public var current: RewardModelVersionInfo {
    state.withLock { $0.entries[$0.current]!.version.info }
  }

  /// The current version's id, LoRA and head (nil: the base weights, the checkpoint's head):
  /// what the trainer starts its next reward-model update and its value model from.
  public func currentVersion() -> (
    id: String, adapter: DecoderAdapter?, head: (weight: [Float], bias: Float?)?
  ) {
    let version = state.withLock { $0.entries[$0.current]!.version }
    return (version.info.id, version.adapter, version.head.map { ($0.weight, $0.bias) })
  }

  /// Every served version, newest first.
  public func listing() -> [RewardModelVersionInfo] {
    state.withLock { state in
      state.entries.values.map(\.version.info).sorted {
        ($0.createdUnixMs, $0.id) > ($1.createdUnixMs, $1.id)
      }
    }
  }

  /// The version a Score request arriving now runs on: the current one.
  public func acquire() -> RewardModelVersionLease {
    state.withLock { state in
      state.entries[state.current]!.inUse += 1
      return RewardModelVersionLease(state.entries[state.current]!.version) { [weak self] id in
        self?.state.withLock { state in state.entries[id]?.inUse -= 1 }
      }
    }
  }

  /// Score requests holding a lease on `id` (running or waiting).
  public func inUse(_ id: String) -> Int { state.withLock { $0.entries[id]?.inUse ?? 0 } }

  /// Serves a new version (current at once with `makeCurrent`). ALREADY_EXISTS for an id served
  /// or retired before, NOT_FOUND for an unknown parent, INVALID_ARGUMENT for an adapter or
  /// head that does not fit the model.
  public func register(
    _ info: RewardModelVersionInfo,
    adapter: DecoderAdapter?,
    head: (weight: [Float], bias: Float?)?,
    makeCurrent: Bool = false
  ) throws(BackendError) {
    let head = head.map { RewardScoreHead(weight: $0.weight, bias: $0.bias) }
    do { try check(adapter, head) } catch {
      throw BackendError(.invalidArgument, "reward-model version '\(info.id)': \(error)")
    }
    let version = RewardModelVersion(info: info, adapter: adapter, head: head)
    try state.withLock { state throws(BackendError) in
      if state.entries[info.id] != nil || state.retired.contains(info.id) {
        let what = state.retired.contains(info.id) ? "was retired (ids are never reused)" : "exists"
        throw BackendError(.alreadyExists, "reward-model version '\(info.id)' \(what)")
      }
      if !info.parent.isEmpty, state.entries[info.parent] == nil,
        !state.retired.contains(info.parent)
      {
        throw BackendError(.notFound, "parent version '\(info.parent)' is not registered")
      }
      state.entries[info.id] = (version, 0)
      if makeCurrent { state.current = info.id }
    }
  }

  /// Makes `id` the version new Score requests run on (running ones keep theirs).
  public func setCurrent(_ id: String) throws(BackendError) {
    try state.withLock { state throws(BackendError) in
      guard state.entries[id] != nil else { throw Self.unknown(id, state) }
      state.current = id
    }
  }

  /// Stops serving `id` and drops its adapter once the requests holding it end.
  /// FAILED_PRECONDITION for the base or the current version.
  public func retire(_ id: String) throws(BackendError) {
    try state.withLock { state throws(BackendError) in
      guard let entry = state.entries[id] else { throw Self.unknown(id, state) }
      if entry.version.info.source == "base" {
        throw BackendError(.failedPrecondition, "the base reward model cannot be retired")
      }
      if state.current == id {
        throw BackendError(
          .failedPrecondition,
          "reward-model version '\(id)' is current; make another current first"
        )
      }
      state.entries[id] = nil
      state.retired.insert(id)
    }
  }

  /// At start-up: adds versions restored from the store or the configuration (checked as
  /// `register` checks them), marks `retired` ids and makes `current` current when known.
  public func restore(
    _ versions: [(
      info: RewardModelVersionInfo, adapter: DecoderAdapter?,
      head: (weight: [Float], bias: Float?)?
    )],
    retired: Set<String> = [],
    current: String?
  ) throws(BackendError) {
    var made: [RewardModelVersion] = []
    for entry in versions {
      let head = entry.head.map { RewardScoreHead(weight: $0.weight, bias: $0.bias) }
      do { try check(entry.adapter, head) } catch {
        throw BackendError(.invalidArgument, "reward-model version '\(entry.info.id)': \(error)")
      }
      made.append(RewardModelVersion(info: entry.info, adapter: entry.adapter, head: head))
    }
    state.withLock { state in
      for version in made { state.entries[version.info.id] = (version, 0) }
      state.retired.formUnion(retired)
      if let current, state.entries[current] != nil { state.current = current }
    }
  }

  private static func unknown(_ id: String, _ state: State) -> BackendError {
    if state.retired.contains(id) {
      return BackendError(.notFound, "reward-model version '\(id.prefix(128))' is retired")
    }
    let known = state.entries.keys.sorted().prefix(20).joined(separator: ", ")
    return BackendError(
      .notFound,
      "reward-model version '\(id.prefix(128))' is unknown; this daemon serves: \(known)"
    )
  }
}
