// What a BridgeServerTransport listens on and how.
public import GRPCCore

/// Settings of a ``BridgeServerTransport``.
public struct BridgeConfiguration: Sendable {
  /// Addresses in gRPC form: `host:port` (`127.0.0.1:50051`, `[::1]:0`, `0.0.0.0:50051`),
  /// `unix:/path/to.sock` or `unix-abstract:name`. Port 0 picks a free port.
  public var addresses: [String]
  /// TLS for every address; nil serves plaintext.
  public var tls: TLS?
  /// Largest request message accepted; larger ones end with RESOURCE_EXHAUSTED.
  public var maxReceiveMessageBytes: Int
  /// Largest response message sent; larger ones end with RESOURCE_EXHAUSTED.
  public var maxSendMessageBytes: Int
  /// How long a graceful shutdown waits for in-flight calls before cancelling them.
  public var drainTimeout: Duration
  /// Requests armed in the core per registered method; more calls wait in the core until one
  /// is taken.
  public var acceptBacklog: Int
  /// Calls per connection, idle and keepalive limits.
  public var connectionLimits: ConnectionLimits
  /// Extra integer channel args for the core (`grpc.http2.max_ping_strikes`, …); they override
  /// the bridge's own.
  public var channelArgs: [String: Int32]

  public init(
    addresses: [String],
    tls: TLS? = nil,
    maxReceiveMessageBytes: Int = 32 << 20,
    maxSendMessageBytes: Int = 32 << 20,
    drainTimeout: Duration = .seconds(10),
    acceptBacklog: Int = 16,
    connectionLimits: ConnectionLimits = ConnectionLimits(),
    channelArgs: [String: Int32] = [:]
  ) {
    self.addresses = addresses
    self.tls = tls
    self.maxReceiveMessageBytes = maxReceiveMessageBytes
    self.maxSendMessageBytes = maxSendMessageBytes
    self.drainTimeout = drainTimeout
    self.acceptBacklog = acceptBacklog
    self.connectionLimits = connectionLimits
    self.channelArgs = channelArgs
  }

  /// Server certificate and key, and optionally the CA that client certificates must chain to.
  public struct TLS: Sendable {
    public var certificateChainPEM: String
    public var privateKeyPEM: String
    /// When set, clients may present a certificate signed by this CA.
    public var clientCAPEM: String?
    /// With `clientCAPEM`: reject clients without a valid certificate (mutual TLS).
    public var requireClientCertificate: Bool

    public init(
      certificateChainPEM: String,
      privateKeyPEM: String,
      clientCAPEM: String? = nil,
      requireClientCertificate: Bool = false
    ) {
      self.certificateChainPEM = certificateChainPEM
      self.privateKeyPEM = privateKeyPEM
      self.clientCAPEM = clientCAPEM
      self.requireClientCertificate = requireClientCertificate
    }
  }

  /// The core's channel args: message sizes, no SO_REUSEPORT (a second daemon on the same port
  /// must fail, not silently share traffic) and the connection limits (a handshake timeout
  /// against connections that never speak, idle and keepalive timeouts, a bound on concurrent
  /// streams per connection; admission control proper is the scheduler's job).
  var coreChannelArgs: [String: Int32] {
    var args: [String: Int32] = [
      "grpc.so_reuseport": 0,
      "grpc.max_receive_message_length": Int32(clamping: self.maxReceiveMessageBytes),
      "grpc.max_send_message_length": Int32(clamping: self.maxSendMessageBytes),
    ]
    args.merge(self.connectionLimits.channelArgs) { _, limit in limit }
    args.merge(self.channelArgs) { _, override in override }
    return args
  }
}

/// Information the bridge attaches to each call's `ServerContext.transportSpecific`.
public struct BridgeCallInfo: ServerContext.TransportSpecific {
  /// When the client's deadline passes; nil when the client set none.
  public var deadline: ContinuousClock.Instant?
  /// "/package.Service/Method" as sent by the client.
  public var path: String
}

/// An error of the bridge itself (not of an RPC): a code and a message that says what was wrong.
public struct BridgeError: Error, Sendable, CustomStringConvertible {
  public enum Code: Sendable { case bindFailed, invalidConfiguration, coreFailure }
  public var code: Code
  public var message: String

  public init(code: Code, message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { self.message }
}
