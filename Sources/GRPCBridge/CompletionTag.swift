// A completion tag is a retained Swift object passed to the C core as `void*`. The poller thread
// takes the retained value back exactly once, when the core reports the operation's event, and
// runs the tag's body there. Bodies must be tiny and must never block: resume a continuation,
// free a batch, re-arm a request, spawn or cancel a task.
final class CompletionTag {
  private let body: (_ success: Bool) -> Void

  init(_ body: @escaping (_ success: Bool) -> Void) {
    self.body = body
  }

  /// A +1 reference for the core; balanced by `complete(_:success:)` or `release(_:)`.
  func retainedPointer() -> UnsafeMutableRawPointer {
    Unmanaged.passRetained(self).toOpaque()
  }

  /// Runs the tag's body and drops the core's reference.
  static func complete(_ pointer: UnsafeMutableRawPointer, success: Bool) {
    Unmanaged<CompletionTag>.fromOpaque(pointer).takeRetainedValue().body(success)
  }

  /// Drops the core's reference without running the body: the operation was never started.
  static func release(_ pointer: UnsafeMutableRawPointer) {
    Unmanaged<CompletionTag>.fromOpaque(pointer).release()
  }
}
