// Limits on each HTTP/2 connection, enforced by the core through channel args: how many calls
// run at once, and when idle, silent or old connections are closed.

/// Limits on each client connection of a ``BridgeServerTransport``.
public struct ConnectionLimits: Sendable, Equatable {
  /// Calls at once on one connection (HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`): further calls
  /// wait in the client. A client that opens more streams anyway loses its connection, once it
  /// has acknowledged the server's SETTINGS (core 1.51 enforces only acknowledged settings).
  public var maxConcurrentStreams: Int
  /// A connection without calls for this long is closed (GOAWAY); nil keeps it forever.
  public var idleTimeout: Duration?
  /// While calls are in flight, the server pings a connection after this long without reads;
  /// nil never pings (a vanished client is then noticed only by TCP).
  public var keepaliveTime: Duration?
  /// An unanswered keepalive ping closes the connection after this long (its calls end).
  public var keepaliveTimeout: Duration
  /// Connections older than this get a GOAWAY (clients reconnect); nil never.
  public var maxAge: Duration?
  /// After the `maxAge` GOAWAY, how long calls in flight may still finish before the connection
  /// is closed.
  public var maxAgeGrace: Duration
  /// A connection that has not finished its TLS handshake and HTTP/2 preface by then is closed.
  public var handshakeTimeout: Duration

  public init(
    maxConcurrentStreams: Int = 32,
    idleTimeout: Duration? = .seconds(300),
    keepaliveTime: Duration? = .seconds(60),
    keepaliveTimeout: Duration = .seconds(20),
    maxAge: Duration? = nil,
    maxAgeGrace: Duration = .seconds(60),
    handshakeTimeout: Duration = .seconds(10)
  ) {
    self.maxConcurrentStreams = maxConcurrentStreams
    self.idleTimeout = idleTimeout
    self.keepaliveTime = keepaliveTime
    self.keepaliveTimeout = keepaliveTimeout
    self.maxAge = maxAge
    self.maxAgeGrace = maxAgeGrace
    self.handshakeTimeout = handshakeTimeout
  }

  /// The core's channel args for these limits (Int32.max is "never" to the core). Keepalive
  /// pings are sent even on calls that carry no data for a while (`max_pings_without_data` 0):
  /// otherwise the core stops after two and a vanished client would hold its calls. Ping abuse
  /// by clients keeps the core's defaults (at most one ping per 5 minutes without data, two
  /// strikes, then GOAWAY `too_many_pings`).
  var channelArgs: [String: Int32] {
    [
      "grpc.max_concurrent_streams": Int32(clamping: self.maxConcurrentStreams),
      "grpc.max_connection_idle_ms": Self.milliseconds(self.idleTimeout),
      "grpc.keepalive_time_ms": Self.milliseconds(self.keepaliveTime),
      "grpc.keepalive_timeout_ms": Self.milliseconds(self.keepaliveTimeout),
      "grpc.http2.max_pings_without_data": 0,
      "grpc.max_connection_age_ms": Self.milliseconds(self.maxAge),
      "grpc.max_connection_age_grace_ms": Self.milliseconds(self.maxAgeGrace),
      "grpc.server_handshake_timeout_ms": Self.milliseconds(self.handshakeTimeout),
    ]
  }

  /// Whole milliseconds, at least 1 and at most Int32.max (the core's int args); nil is never.
  static func milliseconds(_ duration: Duration?) -> Int32 {
    guard let (seconds, attoseconds) = duration?.components else { return Int32.max }
    let millis = seconds.multipliedReportingOverflow(by: 1000)
    if millis.overflow || seconds > Int64(Int32.max) { return Int32.max }
    return Int32(clamping: max(1, millis.partialValue + attoseconds / 1_000_000_000_000_000))
  }
}
