// The two halves of an RPC stream as GRPCCore sees them, backed by batches on one ServerCall.
internal import CGRPC
internal import CGRPCShim
import GRPCCore
import Synchronization

/// Request parts: the request metadata, then the messages, one per RECV_MESSAGE until the client
/// half-closes, pull-driven: a receive batch is started only when the handler asks for the next
/// message. A single-message request read with the call is yielded at once; the stream still
/// ends only at the half-close, so that GRPCCore sees a second message sent to a unary method
/// (and fails the call) instead of the bridge dropping it.
struct CallInbound: AsyncSequence, Sendable {
  typealias Element = RPCRequestPart<[UInt8]>
  let call: ServerCall

  func makeAsyncIterator() -> Iterator { Iterator(call: self.call) }

  struct Iterator: AsyncIteratorProtocol {
    let call: ServerCall
    var sentMetadata = false
    var tookSingleRequest = false
    var finished = false

    mutating func next() async throws -> RPCRequestPart<[UInt8]>? {
      if !self.sentMetadata {
        self.sentMetadata = true
        return .metadata(self.call.requestMetadata)
      }
      if self.finished { return nil }
      if let single = self.call.singleRequest, !self.tookSingleRequest {
        self.tookSingleRequest = true
        switch single {
        case .message(let message): return .message(message)
        case .invalid(let error):
          self.finished = true
          throw error
        case .none:
          self.finished = true
          return nil
        }
      }
      guard let message = try await self.call.receiveMessage() else {
        self.finished = true
        return nil
      }
      return .message(message)
    }
  }
}

/// Response parts. Initial metadata goes out with the first message or with the status, as the
/// core requires it exactly once. Each message waits for its send to complete (one SEND_MESSAGE
/// may be pending; this is also flow control). When the method's response is a single message,
/// it is held back and sent in one batch with the status: one batch per unary call.
final class CallWriter: ClosableRPCWriterProtocol, Sendable {
  typealias Element = RPCResponsePart<[UInt8]>

  private let call: ServerCall
  private let holdsSingleResponse: Bool
  private let state = Mutex(State())

  private struct State {
    var initialMetadata = Metadata()
    var sentInitialMetadata = false
    var heldMessage: [UInt8]?
    var sentStatus = false
  }

  init(call: ServerCall, holdsSingleResponse: Bool) {
    self.call = call
    self.holdsSingleResponse = holdsSingleResponse
  }

  func write(_ element: Element) async throws {
    switch element {
    case .metadata(let metadata):
      self.state.withLock { $0.initialMetadata.add(contentsOf: metadata) }
    case .message(let bytes):
      if self.holdsSingleResponse {
        self.state.withLock { $0.heldMessage = bytes }
        return
      }
      try await self.send(message: bytes)
    case .status(let status, let trailers):
      self.sendStatus(status, trailers: trailers)
    }
  }

  func write(contentsOf elements: some Sequence<Element>) async throws {
    for element in elements { try await self.write(element) }
  }

  func finish() async {
    // GRPCCore writes the status before finishing; a writer finished without one ends the call
    // with UNKNOWN rather than leaving the client waiting.
    self.sendStatus(
      Status(code: .unknown, message: "The handler ended without a status."),
      trailers: [:]
    )
  }

  func finish(throwing error: any Error) async {
    let rpcError = (error as? RPCError) ?? RPCError(code: .unknown, message: "\(error)")
    self.sendStatus(
      Status(code: Status.Code(rpcError.code), message: rpcError.message),
      trailers: rpcError.metadata
    )
  }

  private func send(message bytes: [UInt8]) async throws {
    let batch = cgrpc_batch_create()!
    self.addInitialMetadataIfNeeded(to: batch)
    bytes.withUnsafeBufferPointer { cgrpc_batch_send_message(batch, $0.baseAddress, $0.count) }
    guard await self.call.run(batch) else { throw ServerCall.callEnded }
  }

  /// Ends the call with `error`'s status before any handler ran (the transport's admission check).
  func refuse(_ error: RPCError) {
    self.sendStatus(
      Status(code: Status.Code(error.code), message: error.message),
      trailers: error.metadata
    )
  }

  /// Fire-and-forget: the batch is freed on the poller thread; nothing waits for it.
  private func sendStatus(_ status: Status, trailers: Metadata) {
    let held: [UInt8]?? = self.state.withLock { state in
      if state.sentStatus { return .none }
      state.sentStatus = true
      defer { state.heldMessage = nil }
      return .some(state.heldMessage)
    }
    guard case .some(let heldMessage) = held else { return }
    let batch = cgrpc_batch_create()!
    self.addInitialMetadataIfNeeded(to: batch)
    if let heldMessage, status.code == .ok {
      heldMessage.withUnsafeBufferPointer {
        cgrpc_batch_send_message(batch, $0.baseAddress, $0.count)
      }
    }
    addMetadata(trailers, to: batch, using: cgrpc_batch_add_trailing_metadata)
    let message = status.message
    message.withCString {
      cgrpc_batch_send_status(
        batch,
        grpc_status_code(rawValue: Int32(status.code.rawValue)),
        $0,
        message.utf8.count
      )
    }
    self.call.start(batch) { _, _ in }
  }

  private func addInitialMetadataIfNeeded(to batch: UnsafeMutablePointer<cgrpc_batch>) {
    let metadata: Metadata? = self.state.withLock { state in
      if state.sentInitialMetadata { return nil }
      state.sentInitialMetadata = true
      return state.initialMetadata
    }
    guard let metadata else { return }
    addMetadata(metadata, to: batch, using: cgrpc_batch_add_initial_metadata)
    cgrpc_batch_send_initial_metadata(batch)
  }
}
