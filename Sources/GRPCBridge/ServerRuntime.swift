// The core's server object for one `listen`: creation and binding, the accept loop, in-flight
// accounting and the shutdown sequence. Order (research/cgrpc-spike.md, section 4):
//   grpc_init → create server, register queue → add ports → start → arm request_call slots;
//   shutdown_and_notify → (drain) → cancel_all_calls → shutdown tag and handlers done →
//   server_destroy → queue shutdown, join poller → queue destroy → grpc_shutdown.
internal import CGRPC
internal import CGRPCShim
import Synchronization

final class ServerRuntime: Sendable {
  private let server: SendablePointer
  private let queue: CompletionQueue
  private let state = Mutex(State())
  private let onCall: @Sendable (ServerCall, _ done: @escaping @Sendable () -> Void) -> Void
  let boundAddresses: [String]
  /// One certificate source per TLS port (`tls_reload.c`); empty without TLS.
  private let tlsSources: [SendablePointer]

  private struct State {
    var inFlight = 0
    var shuttingDown = false
    var shutdownNotified = false
    var destroyed = false
    var waiter: CheckedContinuation<Void, Never>?
    var stopped: Bool { self.shutdownNotified && self.inFlight == 0 }
  }

  struct SendablePointer: @unchecked Sendable { let pointer: OpaquePointer }

  /// - Parameters:
  ///   - methods: paths to register with the core, and whether each reads its single request
  ///     message with the call. Calls to other paths arrive through generic requests.
  init(
    configuration: BridgeConfiguration,
    methods: [(path: String, readsPayload: Bool)],
    onCall: @escaping @Sendable (ServerCall, _ done: @escaping @Sendable () -> Void) -> Void
  ) throws {
    self.onCall = onCall
    grpc_init()
    let args = configuration.coreChannelArgs.sorted { $0.key < $1.key }
    let keys = args.map { strdup($0.key) }
    defer { for key in keys { free(key) } }
    let server = keys.map { UnsafePointer($0) }.withUnsafeBufferPointer { keyBuffer in
      args.map { $0.value }.withUnsafeBufferPointer { values in
        cgrpc_server_create(keyBuffer.baseAddress, values.baseAddress, args.count)!
      }
    }
    let queue = CompletionQueue()
    grpc_server_register_completion_queue(server, queue.pointer, nil)
    let registered = methods.compactMap { method -> RegisteredMethod? in
      guard
        let handle = cgrpc_server_register_method(server, method.path, method.readsPayload ? 1 : 0)
      else { return nil }
      return RegisteredMethod(path: method.path, handle: handle, readsPayload: method.readsPayload)
    }
    var bound: [String] = []
    var sources: [SendablePointer] = []
    do {
      for address in configuration.addresses {
        let source = configuration.tls.map { tls in
          SendablePointer(
            pointer: cgrpc_tls_source_create(
              tls.privateKeyPEM,
              tls.certificateChainPEM,
              tls.clientCAPEM
            )
          )
        }
        if let source { sources.append(source) }
        bound.append(
          try Self.addPort(server, address: address, tls: configuration.tls, source: source)
        )
      }
    } catch {
      grpc_server_destroy(server)
      grpc_completion_queue_shutdown(queue.pointer)
      grpc_completion_queue_destroy(queue.pointer)
      grpc_shutdown()
      throw error
    }
    grpc_server_start(server)
    queue.startPoller()
    self.server = SendablePointer(pointer: server)
    self.queue = queue
    self.boundAddresses = bound
    self.tlsSources = sources
    // Each registered method keeps its own backlog armed; the generic backlog only serves
    // paths nobody registered (GRPCCore answers those with UNIMPLEMENTED).
    for method in registered {
      for _ in 0..<max(1, configuration.acceptBacklog) { self.requestCall(method) }
    }
    for _ in 0..<4 { self.requestCall(nil) }
  }

  private static func addPort(
    _ server: OpaquePointer,
    address: String,
    tls: BridgeConfiguration.TLS?,
    source: SendablePointer?
  ) throws -> String {
    let credentials: OpaquePointer? =
      if let tls, let source {
        cgrpc_server_credentials_create_reloadable(
          source.pointer,
          tls.clientCAPEM == nil ? 0 : 1,
          tls.requireClientCertificate ? 1 : 0
        )
      } else {
        cgrpc_server_credentials_create(nil, nil, nil, 0)
      }
    guard let credentials else {
      throw BridgeError(
        code: .invalidConfiguration,
        message: "the TLS certificate or key was rejected"
      )
    }
    defer { grpc_server_credentials_release(credentials) }
    let port = grpc_server_add_http2_port(server, address, credentials)
    guard port > 0 else {
      let reason =
        tls == nil
        ? "the address is in use, not local, or not allowed"
        : "the address is in use, not local, or not allowed, or the TLS certificate and key "
          + "do not form a valid pair (the gRPC core's log above says which)"
      throw BridgeError(code: .bindFailed, message: "cannot listen on \(address): \(reason)")
    }
    if address.hasPrefix("unix:") || address.hasPrefix("unix-abstract:") { return address }
    guard let colon = address.lastIndex(of: ":") else { return address }
    return address[..<colon] + ":\(port)"
  }

  /// Offers a new certificate chain, key and client CAs to every TLS port: new connections
  /// get them at their handshake, open ones keep theirs.
  func offerTLS(_ tls: BridgeConfiguration.TLS) {
    for source in tlsSources {
      cgrpc_tls_source_offer(
        source.pointer,
        tls.privateKeyPEM,
        tls.certificateChainPEM,
        tls.clientCAPEM
      )
    }
  }

  /// Whether the ports serve TLS (and so can take new files).
  var servesTLS: Bool { !tlsSources.isEmpty }

  /// Whether the core accepts `tls` for a port (the key matches the certificate, every PEM
  /// parses); a throwaway server bound to a unique unix-abstract name tells.
  static func accepts(_ tls: BridgeConfiguration.TLS) -> Bool {
    let address = "unix-abstract:rlhfd-tls-check-\(UInt64.random(in: .min ... .max))"
    return cgrpc_tls_check(
      tls.privateKeyPEM,
      tls.certificateChainPEM,
      tls.clientCAPEM,
      address
    ) == 1
  }

  // MARK: Accepting

  /// Arms one request for a new call to `method` (nil: any unregistered path). Its tag re-arms
  /// a replacement first (unless the server is shutting down) and then hands the call over.
  private func requestCall(_ method: RegisteredMethod?) {
    let slot = cgrpc_call_slot_create()!
    let tag = CompletionTag { success in
      guard success, slot.pointee.call != nil else {
        cgrpc_call_slot_destroy(slot)  // the server shut down; do not re-arm
        return
      }
      self.requestCall(method)
      self.accept(ServerCall(slot: slot, method: method))
    }.retainedPointer()
    let error =
      if let method {
        cgrpc_call_slot_request_registered(
          slot,
          self.server.pointer,
          method.handle,
          method.readsPayload ? 1 : 0,
          self.queue.pointer,
          tag
        )
      } else {
        cgrpc_call_slot_request(slot, self.server.pointer, self.queue.pointer, tag)
      }
    if error != GRPC_CALL_OK {
      CompletionTag.release(tag)
      cgrpc_call_slot_destroy(slot)
    }
  }

  private func accept(_ call: ServerCall) {
    self.state.withLock { $0.inFlight += 1 }
    self.onCall(call) { self.finishedCall() }
  }

  private func finishedCall() {
    let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
      state.inFlight -= 1
      return state.stopped ? state.waiter.take() : nil
    }
    waiter?.resume()
  }

  // MARK: Shutdown

  /// Stops accepting; after `drainTimeout`, cancels the calls still running. Idempotent, except
  /// that a shorter timeout given later still applies.
  func beginShutdown(drainTimeout: Duration) {
    let first = self.state.withLock { state -> Bool in
      defer { state.shuttingDown = true }
      return !state.shuttingDown
    }
    if first {
      let tag = CompletionTag { _ in
        let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
          state.shutdownNotified = true
          return state.stopped ? state.waiter.take() : nil
        }
        waiter?.resume()
      }.retainedPointer()
      grpc_server_shutdown_and_notify(self.server.pointer, self.queue.pointer, tag)
    }
    if drainTimeout <= .zero {
      self.cancelAllCalls()
    } else {
      Task {
        try? await Task.sleep(for: drainTimeout)
        self.cancelAllCalls()
      }
    }
  }

  private func cancelAllCalls() {
    self.state.withLock { state in
      if !state.destroyed { grpc_server_cancel_all_calls(self.server.pointer) }
    }
  }

  /// Returns once shutdown was notified by the core and every handler returned.
  func waitUntilStopped() async {
    await withCheckedContinuation { continuation in
      let stopped = self.state.withLock { state in
        if state.stopped { return true }
        state.waiter = continuation
        return false
      }
      if stopped { continuation.resume() }
    }
  }

  /// Frees the core's objects. Call once, after `waitUntilStopped`.
  func destroy() {
    self.state.withLock { state in
      state.destroyed = true
      grpc_server_destroy(self.server.pointer)
    }
    self.queue.shutdownAndJoin()
    grpc_shutdown()
  }
}

/// A method registered with the core: calls to it arrive on requests armed for it.
struct RegisteredMethod: @unchecked Sendable {
  let path: String
  /// The core's handle, valid as long as the server.
  let handle: UnsafeMutableRawPointer
  /// The single request message is read with the call (no RECV_MESSAGE round trip).
  let readsPayload: Bool
}
