// Fans the trainer's events out to every watcher (WatchTraining streams, the metrics, the
// status line). Each event gets the next sequence number (from 1) and the time; a watcher that
// reads slower than events come keeps the newest `capacity` of them (the trainer never waits
// for a watcher). `finish()` ends every stream, e.g. when the daemon drains.
import Glibc
import Synchronization

public final class TrainerEventHub: Sendable {
  private struct State {
    var sequence: UInt64 = 0
    var nextWatcher = 0
    var watchers: [Int: AsyncStream<TrainerEvent>.Continuation] = [:]
    var finished = false
  }

  private let state = Mutex(State())
  /// Events kept for a watcher that has not read them yet.
  public let capacity: Int

  public init(capacity: Int = 1024) {
    self.capacity = capacity
  }

  /// Numbers and time-stamps `kind` and sends it to every watcher; returns the event.
  @discardableResult
  public func publish(_ kind: TrainerEventKind) -> TrainerEvent {
    state.withLock { state in
      state.sequence += 1
      let event = TrainerEvent(sequence: state.sequence, timeUnixMs: Self.nowUnixMs(), kind: kind)
      for watcher in state.watchers.values { watcher.yield(event) }
      return event
    }
  }

  /// A stream of the events published from now on; `first`, when given, comes first (a status
  /// snapshot: not an event of its own, it carries the number of the last event before it, so
  /// every watcher sees the same numbers). Ends at `finish()` or when the consumer stops.
  public func watch(first: TrainerEventKind? = nil) -> AsyncStream<TrainerEvent> {
    let (stream, continuation) = AsyncStream.makeStream(
      of: TrainerEvent.self,
      bufferingPolicy: .bufferingNewest(capacity)
    )
    let id: Int? = state.withLock { state in
      if state.finished { return nil }
      if let first {
        continuation.yield(
          TrainerEvent(sequence: state.sequence, timeUnixMs: Self.nowUnixMs(), kind: first)
        )
      }
      state.nextWatcher += 1
      state.watchers[state.nextWatcher] = continuation
      return state.nextWatcher
    }
    guard let id else {
      continuation.finish()
      return stream
    }
    continuation.onTermination = { [weak self] _ in
      _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
    }
    return stream
  }

  /// Watchers connected now.
  public var watcherCount: Int { state.withLock { $0.watchers.count } }

  /// Ends every stream; later `watch` calls get an empty stream.
  public func finish() {
    let watchers = state.withLock { state in
      state.finished = true
      defer { state.watchers = [:] }
      return Array(state.watchers.values)
    }
    for watcher in watchers { watcher.finish() }
  }

  static func nowUnixMs() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
  }
}
