// A GRPCCore.ServerTransport over the gRPC C core: GRPCCore routes, decodes and runs handlers;
// this transport accepts calls from the core and moves bytes. It knows no service and no model.
internal import CGRPC
internal import CGRPCShim
public import GRPCCore
import Synchronization

/// Serves gRPC through Debian's gRPC C core (libgrpc 1.51).
///
/// `listen` binds every configured address (throwing ``BridgeError`` when one cannot be bound),
/// then hands each call to GRPCCore on its own task. `beginGracefulShutdown` stops accepting,
/// lets in-flight calls finish for ``BridgeConfiguration/drainTimeout`` and then cancels them;
/// cancelling the task that runs `listen` cancels them at once.
public final class BridgeServerTransport: ServerTransport, Sendable {
  public typealias Bytes = [UInt8]

  public let configuration: BridgeConfiguration
  private let state = Mutex(State())
  private let onListening: @Sendable (_ addresses: [String]) -> Void
  private let admission: BridgeAdmission?

  private struct State {
    var methods: [MethodDescriptor] = []
    var runtime: ServerRuntime?
    var shutdownRequested = false
  }

  /// - Parameters:
  ///   - configuration: addresses, TLS and limits.
  ///   - admission: asked on the poller thread when a call arrives, with its method and request
  ///     metadata, before any task or handler exists; an error it returns ends the call at once
  ///     with that status (an early refusal under overload: no cooperative thread is needed, so
  ///     it is answered even while they are busy). Must not block; nil = every call is handled.
  ///   - onListening: called once every address is bound and the server accepts calls, with the
  ///     bound addresses (port 0 replaced by the port picked).
  public init(
    configuration: BridgeConfiguration,
    admission: BridgeAdmission? = nil,
    onListening: @escaping @Sendable (_ addresses: [String]) -> Void = { _ in }
  ) {
    self.configuration = configuration
    self.admission = admission
    self.onListening = onListening
  }

  /// Learns the served methods: each is registered with the core, requests that are a single
  /// message arrive with the call, and single responses go out in one batch with the status.
  public func configure(context: GRPCServerContext) {
    self.state.withLock { $0.methods = context.methods }
  }

  public func listen(
    streamHandler:
      @escaping @Sendable (
        _ stream: RPCStream<Inbound, Outbound>, _ context: ServerContext
      ) async -> Void
  ) async throws {
    let methods = self.state.withLock { $0.methods }
    let singleResponseMethods = Set(
      methods.filter { $0.type.map { !$0.isResponseStreaming } ?? false }.map(\.path)
    )
    let registrations = methods.map { method in
      (path: method.path, readsPayload: method.type.map { !$0.isRequestStreaming } ?? false)
    }
    let admission = self.admission
    let onCall: @Sendable (ServerCall, @escaping @Sendable () -> Void) -> Void = { call, done in
      if let admission,
        let refusal = admission.check(MethodDescriptor(path: call.path), call.requestMetadata)
      {
        call.watchClose()
        CallWriter(call: call, holdsSingleResponse: false).refuse(refusal)
        done()
        return
      }
      let singleResponse = singleResponseMethods.contains(call.path)
      Self.handle(call, singleResponse: singleResponse, streamHandler, done: done)
    }
    let runtime = try ServerRuntime(
      configuration: self.configuration,
      methods: registrations,
      onCall: onCall
    )
    let stopEarly = self.state.withLock { state in
      state.runtime = runtime
      return state.shutdownRequested
    }
    if stopEarly { runtime.beginShutdown(drainTimeout: self.configuration.drainTimeout) }
    self.onListening(runtime.boundAddresses)
    await withTaskCancellationHandler {
      await runtime.waitUntilStopped()
    } onCancel: {
      runtime.beginShutdown(drainTimeout: .zero)
    }
    self.state.withLock { $0.runtime = nil }
    runtime.destroy()
  }

  public func beginGracefulShutdown() {
    let runtime = self.state.withLock { state in
      state.shutdownRequested = true
      return state.runtime
    }
    runtime?.beginShutdown(drainTimeout: self.configuration.drainTimeout)
  }

  /// New TLS files for the connections accepted from now on; calls and connections already
  /// open keep theirs. The client-certificate policy (none / optional / required) stays as
  /// started. Throws when the server is not running or serves no TLS, or when the core
  /// refuses the files (a key that does not match the certificate, a PEM that does not parse;
  /// the core's log line says which): then the previous files stay in force.
  public func reloadTLS(_ tls: BridgeConfiguration.TLS) throws(BridgeError) {
    guard let runtime = self.state.withLock({ $0.runtime }) else {
      throw BridgeError(code: .invalidConfiguration, message: "the server is not running")
    }
    guard runtime.servesTLS else {
      throw BridgeError(code: .invalidConfiguration, message: "the server was started without TLS")
    }
    guard ServerRuntime.accepts(tls) else {
      throw BridgeError(
        code: .invalidConfiguration,
        message: "the gRPC core refused the TLS certificate, key or client CAs (its log says why)"
      )
    }
    runtime.offerTLS(tls)
  }

  /// Runs on the poller thread: starts the close watcher and spawns the handler's task, which
  /// calls `done` when the handler returned.
  private static func handle(
    _ call: ServerCall,
    singleResponse: Bool,
    _ streamHandler:
      @escaping @Sendable (RPCStream<Inbound, Outbound>, ServerContext) async -> Void,
    done: @escaping @Sendable () -> Void
  ) {
    call.watchClose()
    let task = Task {
      await withServerContextRPCCancellationHandle { handle in
        call.attach(handle: handle)
        let descriptor = MethodDescriptor(path: call.path)
        let stream = RPCStream(
          descriptor: descriptor,
          inbound: RPCAsyncSequence(wrapping: CallInbound(call: call)),
          outbound: RPCWriter.Closable(
            wrapping: CallWriter(call: call, holdsSingleResponse: singleResponse)
          )
        )
        var context = ServerContext(
          descriptor: descriptor,
          remotePeer: call.remotePeer,
          localPeer: "",
          cancellation: handle
        )
        context.transportSpecific = BridgeCallInfo(deadline: call.deadline, path: call.path)
        await streamHandler(stream, context)
      }
      call.detachTask()
      done()
    }
    call.attach(task: task)
  }
}

/// The transport's admission check (`BridgeServerTransport.init(configuration:admission:)`).
public struct BridgeAdmission: Sendable {
  /// The method and request metadata of a new call -> the error that ends it at once, or nil.
  public let check: @Sendable (_ method: MethodDescriptor, _ metadata: Metadata) -> RPCError?

  public init(_ check: @escaping @Sendable (MethodDescriptor, Metadata) -> RPCError?) {
    self.check = check
  }
}

extension MethodDescriptor {
  /// "/package.Service/Method", as on the wire.
  var path: String { "/" + self.fullyQualifiedMethod }

  /// Parses "/package.Service/Method"; anything else becomes a descriptor no router knows, so the
  /// call ends with UNIMPLEMENTED.
  init(path: String) {
    let parts = path.split(separator: "/", omittingEmptySubsequences: false)
    if parts.count == 3, parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty {
      self.init(fullyQualifiedService: String(parts[1]), method: String(parts[2]))
    } else {
      self.init(fullyQualifiedService: "", method: path)
    }
  }
}
