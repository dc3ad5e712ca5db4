// The consumer side of one generation: events go out through an AsyncThrowingStream, and the
// count of events sent but not yet read tells the scheduler when a client is behind (stream
// backpressure: such a sequence keeps its KV blocks but gets no decode row until it catches up).
import ServingTypes
import Synchronization

/// Where one generation's events go. Written on the scheduler thread, read by the RPC task.
final class GenerationOutput: Sendable {
  /// Events a client may leave unread before its sequence pauses.
  static let maxUnread = 32

  private let continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation
  private let unread: UnsafeSendableBox<Atomic<Int>>
  private let terminated: UnsafeSendableBox<Atomic<Bool>>

  /// An output and the stream its client reads. `onCancel` runs when the client goes away
  /// before the end (cancel, deadline, or dropping the stream: so the output must not keep the
  /// stream alive); `onCaughtUp` when a client that was `maxUnread` behind has read one event.
  static func make(
    onCancel: @escaping @Sendable () -> Void = {},
    onCaughtUp: @escaping @Sendable () -> Void = {}
  ) -> (GenerationOutput, AsyncThrowingStream<GenerationEvent, any Error>) {
    let (inner, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream()
    let unread = UnsafeSendableBox(Atomic<Int>(0))
    let terminated = UnsafeSendableBox(Atomic<Bool>(false))
    continuation.onTermination = { termination in
      terminated.value.store(true, ordering: .releasing)
      if case .cancelled = termination { onCancel() }
    }
    let reader = StreamReader(inner.makeAsyncIterator())
    let stream = AsyncThrowingStream {
      let event = try await reader.next()
      if event != nil,
        unread.value.subtract(1, ordering: .relaxed).newValue == Self.maxUnread - 1
      {
        onCaughtUp()
      }
      return event
    }
    return (GenerationOutput(continuation, unread: unread, terminated: terminated), stream)
  }

  private init(
    _ continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation,
    unread: UnsafeSendableBox<Atomic<Int>>,
    terminated: UnsafeSendableBox<Atomic<Bool>>
  ) {
    self.continuation = continuation
    self.unread = unread
    self.terminated = terminated
  }

  /// Whether the client has fallen `maxUnread` events behind.
  var isBehind: Bool { unread.value.load(ordering: .relaxed) >= Self.maxUnread }

  /// Whether the stream has ended (finished here, or cancelled by the consumer).
  var isTerminated: Bool { terminated.value.load(ordering: .acquiring) }

  func send(_ event: GenerationEvent) {
    unread.value.add(1, ordering: .relaxed)
    if case .terminated = continuation.yield(event) { unread.value.subtract(1, ordering: .relaxed) }
  }

  func finish(throwing error: (any Error)? = nil) {
    continuation.finish(throwing: error)
  }
}

/// The inner stream's iterator, read by one consumer at a time (the unfolding closure).
private final class StreamReader: @unchecked Sendable {
  private var iterator: AsyncThrowingStream<GenerationEvent, any Error>.AsyncIterator

  init(_ iterator: AsyncThrowingStream<GenerationEvent, any Error>.AsyncIterator) {
    self.iterator = iterator
  }

  func next() async throws -> GenerationEvent? { try await iterator.next() }
}
