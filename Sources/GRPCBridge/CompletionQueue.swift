// Threading model. The bridge has one completion queue and one dedicated poller thread blocked in
// `grpc_completion_queue_next`. In gRPC 1.51 that thread also drives the server's epoll I/O, so it
// never runs handler code: tag bodies only hand work over to Swift tasks. On 2 cores one queue
// measured faster than two (research/cgrpc-spike.md, section 4).
internal import CGRPC
internal import CGRPCShim
internal import Glibc

final class CompletionQueue: @unchecked Sendable {
  let pointer: OpaquePointer
  private var thread: pthread_t?

  init() {
    self.pointer = grpc_completion_queue_create_for_next(nil)
  }

  /// Starts the poller thread. Call once.
  func startPoller() {
    let queue = Unmanaged.passRetained(self).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(
      &thread,
      nil,
      { argument in
        let queue = Unmanaged<CompletionQueue>.fromOpaque(argument!).takeRetainedValue()
        cgrpc_set_thread_name("grpc-poller")
        var tag: UnsafeMutableRawPointer?
        var success: Int32 = 0
        while cgrpc_cq_next(queue.pointer, &tag, &success) == 1 {
          if let tag { CompletionTag.complete(tag, success: success != 0) }
        }
        return nil
      },
      queue
    )
    precondition(rc == 0, "pthread_create failed: \(rc)")
    self.thread = thread
  }

  /// Shuts the queue down, waits for the poller to drain every pending event, then destroys it.
  func shutdownAndJoin() {
    grpc_completion_queue_shutdown(self.pointer)
    if let thread = self.thread {
      pthread_join(thread, nil)
      self.thread = nil
    }
    grpc_completion_queue_destroy(self.pointer)
  }
}
