// Serving status per service name for grpc.health.v1.Health: "" is the daemon as a whole.
// Check reads it; each Watch stream subscribes and gets every change.
import Synchronization

/// Status of one service as the health protocol reports it.
public enum ServingStatus: Sendable, Equatable {
  case serving, notServing
}

public final class HealthStatusStore: Sendable {
  private let state: Mutex<State>

  private struct State {
    var statuses: [String: ServingStatus]
    var watchers: [Int: Watcher] = [:]
    var nextWatcher = 0
    var closed = false
  }

  /// - Parameter services: every service name the daemon serves; all start NOT_SERVING (loading).
  public init(services: [String]) {
    var statuses = Dictionary(uniqueKeysWithValues: services.map { ($0, ServingStatus.notServing) })
    statuses[""] = .notServing
    self.state = Mutex(State(statuses: statuses))
  }

  /// The status of `service`, or nil when the daemon does not serve it.
  public func status(of service: String) -> ServingStatus? {
    self.state.withLock { $0.statuses[service] }
  }

  private struct Watcher {
    var service: String
    var continuation: AsyncStream<ServingStatus?>.Continuation
  }

  /// Sets one known service's status and tells its watchers; unknown names are ignored.
  public func set(_ status: ServingStatus, for service: String) {
    let watchers = self.state.withLock { state -> [Watcher] in
      guard state.statuses[service] != nil, !(state.closed && status == .serving) else {
        return []
      }
      state.statuses[service] = status
      return state.watchers.values.filter { $0.service == service }
    }
    for watcher in watchers { watcher.continuation.yield(status) }
  }

  /// Sets every known service (and the daemon) to `status` and tells the watchers. Once the
  /// store is closed (draining) nothing turns SERVING again, e.g. a model load that finishes
  /// after SIGTERM.
  public func setAll(_ status: ServingStatus) {
    let watchers = self.state.withLock { state -> [Watcher] in
      if state.closed && status == .serving { return [] }
      for key in state.statuses.keys { state.statuses[key] = status }
      return Array(state.watchers.values)
    }
    for watcher in watchers { watcher.continuation.yield(status) }
  }

  /// Ends every watch stream (after telling it NOT_SERVING): the daemon is draining, and watch
  /// streams would otherwise hold the drain open until its timeout.
  public func close() {
    self.setAll(.notServing)
    let watchers = self.state.withLock { state in
      state.closed = true
      defer { state.watchers = [:] }
      return Array(state.watchers.values)
    }
    for watcher in watchers { watcher.continuation.finish() }
  }

  /// A stream of the status of `service`: the current value first, then each change; nil means
  /// the service is unknown. It finishes when the store closes.
  public func watch(_ service: String) -> AsyncStream<ServingStatus?> {
    let (stream, continuation) = AsyncStream<ServingStatus?>.makeStream(
      bufferingPolicy: .bufferingNewest(1)
    )
    let id: Int? = self.state.withLock { state in
      continuation.yield(state.statuses[service])
      if state.closed { return nil }
      let id = state.nextWatcher
      state.nextWatcher += 1
      state.watchers[id] = Watcher(service: service, continuation: continuation)
      return id
    }
    guard let id else {
      continuation.finish()
      return stream
    }
    continuation.onTermination = { [weak self] _ in
      self?.state.withLock { _ = $0.watchers.removeValue(forKey: id) }
    }
    return stream
  }
}
