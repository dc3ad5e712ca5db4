// One accepted call. It owns its C slot (the `grpc_call` reference, details and request metadata);
// every batch in flight holds the call strongly through its tag, so the call is never unref'd
// while the core may still write into it. `grpc_call_start_batch` is not thread-safe per call,
// and the close watcher overlaps the handler's batches, so starts are serialized by a lock.
internal import CGRPC
internal import CGRPCShim
import GRPCCore
import Synchronization

final class ServerCall: @unchecked Sendable {
  private let slot: UnsafeMutablePointer<cgrpc_call_slot>
  private let startLock = Mutex(())
  private let cancellation = Mutex(CancellationState())

  /// "/package.Service/Method" as the client sent it.
  let path: String
  /// For methods registered to read their single request message with the call: that message
  /// (`.none` when the client sent none). Nil for calls whose messages are received one by one.
  let singleRequest: SingleRequest?

  enum SingleRequest {
    case message([UInt8])
    case invalid(RPCError)
    case none
  }
  let remotePeer: String
  /// When the client's deadline passes; nil when the client set none.
  let deadline: ContinuousClock.Instant?
  let requestMetadata: Metadata

  struct CancellationState {
    var isCancelled = false
    var handle: ServerContext.RPCCancellationHandle?
    var task: Task<Void, Never>?
  }

  /// - Parameter method: the registered method the slot was armed for; nil for a generic call,
  ///   whose path and deadline are in the slot's call details.
  init(slot: UnsafeMutablePointer<cgrpc_call_slot>, method: RegisteredMethod?) {
    self.slot = slot
    let deadline: gpr_timespec
    if let method {
      self.path = method.path
      deadline = slot.pointee.deadline
      if method.readsPayload {
        self.singleRequest =
          switch slot.pointee.payload.map({ Self.message(in: $0, of: slot.pointee.call) }) {
          case .success(let message): .message(message)
          case .failure(let error): .invalid(error)
          case nil: SingleRequest.none
          }
      } else {
        self.singleRequest = nil
      }
    } else {
      self.path = withUnsafePointer(to: &slot.pointee.details.method) { String(slice: $0) }
      deadline = slot.pointee.details.deadline
      self.singleRequest = nil
    }
    var peer = [CChar](repeating: 0, count: 128)
    cgrpc_call_peer(slot.pointee.call, &peer, peer.count)
    self.remotePeer = String(
      decoding: peer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) },
      as: UTF8.self
    )
    let remaining = cgrpc_deadline_remaining_ns(deadline)
    self.deadline = remaining == Int64.max ? nil : .now + .nanoseconds(remaining)
    self.requestMetadata = Metadata(slot.pointee.metadata)
  }

  deinit {
    cgrpc_call_slot_destroy(self.slot)
  }

  // MARK: Batches

  /// Starts `batch`; `onComplete` runs on the poller thread after the batch's event, and the batch
  /// is destroyed right after it. Returns false (and destroys the batch) if the core refused it.
  @discardableResult
  func start(
    _ batch: UnsafeMutablePointer<cgrpc_batch>,
    onComplete: @escaping (_ success: Bool, _ batch: UnsafeMutablePointer<cgrpc_batch>) -> Void
  ) -> Bool {
    let tag = CompletionTag { success in
      onComplete(success, batch)
      cgrpc_batch_destroy(batch)
      _ = self  // the batch's event keeps the call alive
    }.retainedPointer()
    let error = self.startLock.withLock { _ in
      cgrpc_batch_start(self.slot.pointee.call, batch, tag)
    }
    guard error == GRPC_CALL_OK else {
      CompletionTag.release(tag)
      cgrpc_batch_destroy(batch)
      return false
    }
    return true
  }

  /// Starts `batch` and suspends until its event; true when every operation succeeded.
  func run(_ batch: UnsafeMutablePointer<cgrpc_batch>) async -> Bool {
    await withUnsafeContinuation { continuation in
      let started = self.start(batch) { success, _ in continuation.resume(returning: success) }
      if !started { continuation.resume(returning: false) }
    }
  }

  /// Receives the next request message; nil when the client half-closed.
  func receiveMessage() async throws -> [UInt8]? {
    let batch = cgrpc_batch_create()!
    cgrpc_batch_recv_message(batch)
    let result: Result<[UInt8]?, RPCError> = await withUnsafeContinuation { continuation in
      let started = self.start(batch) { success, batch in
        guard success else {
          continuation.resume(returning: .failure(Self.callEnded))
          return
        }
        guard let buffer = cgrpc_batch_received(batch) else {
          continuation.resume(returning: .success(nil))
          return
        }
        let message = Self.message(in: buffer, of: self.slot.pointee.call)
        continuation.resume(returning: message.map { Optional($0) })
      }
      if !started { continuation.resume(returning: .failure(Self.callEnded)) }
    }
    return try result.get()
  }

  /// The payload of a message just received on `call`, or INTERNAL when the message breaks the
  /// protocol in a way the core lets through: the compressed flag set without a `grpc-encoding`.
  private static func message(
    in buffer: UnsafeMutablePointer<grpc_byte_buffer>,
    of call: OpaquePointer?
  ) -> Result<[UInt8], RPCError> {
    if cgrpc_call_last_message_compressed(call) != 0 {
      return .failure(Self.compressedWithoutEncoding)
    }
    return .success([UInt8](buffer))
  }

  static let callEnded = RPCError(code: .cancelled, message: "The call has already ended.")
  static let compressedWithoutEncoding = RPCError(
    code: .internalError,
    message:
      "A request message has the compressed flag set, but the call has no grpc-encoding (or identity)."
  )

  // MARK: Cancellation

  /// Watches for the end of the call; when the client cancelled, its deadline passed, the
  /// connection died or the server cancelled all calls, the handler's RPC and task are cancelled.
  func watchClose() {
    let batch = cgrpc_batch_create()!
    cgrpc_batch_recv_close(batch)
    self.start(batch) { success, batch in
      if !success || batch.pointee.cancelled != 0 { self.cancel() }
    }
  }

  func attach(handle: ServerContext.RPCCancellationHandle) {
    let cancelled = self.cancellation.withLock { state in
      state.handle = handle
      return state.isCancelled
    }
    if cancelled { handle.cancel() }
  }

  func attach(task: Task<Void, Never>) {
    let cancelled = self.cancellation.withLock { state in
      state.task = task
      return state.isCancelled
    }
    if cancelled { task.cancel() }
  }

  var isCancelled: Bool { self.cancellation.withLock { $0.isCancelled } }

  private func cancel() {
    let (handle, task) = self.cancellation.withLock { state in
      state.isCancelled = true
      return (state.handle, state.task)
    }
    handle?.cancel()
    task?.cancel()
  }

  /// Forgets the task so the call does not keep it alive after the handler returned.
  func detachTask() {
    self.cancellation.withLock { $0.task = nil }
  }
}
