import Synchronization

/// A least-recently-used cache of per-image values (projected image features) keyed by
/// `ImageFeatureKey`, bounded by a byte budget: each entry declares its cost in bytes and inserting
/// evicts the least recently used entries until the total fits. Thread-safe through a `Mutex`.
public final class ImageCache<Value: Sendable>: Sendable {
  private struct Entry {
    var value: Value
    var cost: Int
    var lastUse: UInt64
  }

  private struct State {
    var entries: [ImageFeatureKey: Entry] = [:]
    var totalCost = 0
    var clock: UInt64 = 0
  }

  /// The largest total cost kept.
  public let byteBudget: Int
  private let state = Mutex(State())

  public init(byteBudget: Int) {
    precondition(byteBudget >= 0, "byte budget must not be negative")
    self.byteBudget = byteBudget
  }

  /// The cached value, marking it most recently used.
  public func value(for key: ImageFeatureKey) -> Value? {
    state.withLock { state in
      guard var entry = state.entries[key] else { return nil }
      state.clock += 1
      entry.lastUse = state.clock
      state.entries[key] = entry
      return entry.value
    }
  }

  /// Stores `value` (replacing any entry for `key`) and evicts least recently used entries until
  /// the total cost fits the budget. A value costing more than the whole budget is not stored.
  /// Returns whether it was stored.
  @discardableResult
  public func insert(_ value: Value, for key: ImageFeatureKey, cost: Int) -> Bool {
    precondition(cost >= 0, "cost must not be negative")
    return state.withLock { state in
      if let old = state.entries.removeValue(forKey: key) { state.totalCost -= old.cost }
      guard cost <= byteBudget else { return false }
      while state.totalCost + cost > byteBudget,
        let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse })
      {
        state.entries.removeValue(forKey: oldest.key)
        state.totalCost -= oldest.value.cost
      }
      state.clock += 1
      state.entries[key] = Entry(value: value, cost: cost, lastUse: state.clock)
      state.totalCost += cost
      return true
    }
  }

  @discardableResult
  public func removeValue(for key: ImageFeatureKey) -> Value? {
    state.withLock { state in
      guard let entry = state.entries.removeValue(forKey: key) else { return nil }
      state.totalCost -= entry.cost
      return entry.value
    }
  }

  public func removeAll() {
    state.withLock { state in
      state.entries.removeAll()
      state.totalCost = 0
    }
  }

  public var count: Int { state.withLock { $0.entries.count } }
  /// Sum of the costs of the cached entries.
  public var totalCost: Int { state.withLock { $0.totalCost } }
}
