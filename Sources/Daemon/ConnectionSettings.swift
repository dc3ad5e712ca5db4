public import GRPCBridge
// The limits on each client connection (the `connections:` section of the configuration) and
// the bridge's ConnectionLimits they become.
import Serving

/// Limits on each HTTP/2 connection. Field names are the YAML keys; 0 seconds means "never"
/// where the key says so.
public struct ConnectionSettings: Codable, Sendable, Equatable {
  /// Calls at once per connection; further calls wait in the client. Below
  /// `batching.max_batch_size` (64), so one connection cannot take the whole batch.
  public var maxConcurrentStreams = 32
  /// A connection without calls for this long is closed; 0 = never.
  public var idleTimeoutSeconds: Double = 300
  /// While calls run, a connection silent for this long is pinged; 0 = never.
  public var keepaliveTimeSeconds: Double = 60
  /// An unanswered ping closes the connection (and ends its calls) after this long.
  public var keepaliveTimeoutSeconds: Double = 20
  /// Connections older than this are asked to reconnect (GOAWAY); 0 = never.
  public var maxAgeSeconds: Double = 0
  /// After that GOAWAY, how long calls in flight may still finish.
  public var maxAgeGraceSeconds: Double = 60
  /// A connection that has not finished its TLS handshake and HTTP/2 preface by then is closed.
  public var handshakeTimeoutSeconds: Double = 10

  public init() {}

  enum CodingKeys: String, CodingKey, CaseIterable {
    case maxConcurrentStreams = "max_concurrent_streams"
    case idleTimeoutSeconds = "idle_timeout_seconds"
    case keepaliveTimeSeconds = "keepalive_time_seconds"
    case keepaliveTimeoutSeconds = "keepalive_timeout_seconds"
    case maxAgeSeconds = "max_age_seconds"
    case maxAgeGraceSeconds = "max_age_grace_seconds"
    case handshakeTimeoutSeconds = "handshake_timeout_seconds"
  }

  public init(from decoder: any Decoder) throws {
    let d = ConnectionSettings()
    let c = try decoder.container(keyedBy: CodingKeys.self)
    func seconds(_ key: CodingKeys, _ fallback: Double) throws -> Double {
      try c.decodeIfPresent(Double.self, forKey: key) ?? fallback
    }
    maxConcurrentStreams =
      try c.decodeIfPresent(Int.self, forKey: .maxConcurrentStreams) ?? d.maxConcurrentStreams
    idleTimeoutSeconds = try seconds(.idleTimeoutSeconds, d.idleTimeoutSeconds)
    keepaliveTimeSeconds = try seconds(.keepaliveTimeSeconds, d.keepaliveTimeSeconds)
    keepaliveTimeoutSeconds = try seconds(.keepaliveTimeoutSeconds, d.keepaliveTimeoutSeconds)
    maxAgeSeconds = try seconds(.maxAgeSeconds, d.maxAgeSeconds)
    maxAgeGraceSeconds = try seconds(.maxAgeGraceSeconds, d.maxAgeGraceSeconds)
    handshakeTimeoutSeconds = try seconds(.handshakeTimeoutSeconds, d.handshakeTimeoutSeconds)
  }

  /// Checks values that decode but make no sense.
  func validate() throws(ConfigurationError) {
    if !(1...65536).contains(maxConcurrentStreams) {
      throw ConfigurationError("'connections.max_concurrent_streams' must be between 1 and 65536")
    }
    let day = 86400.0
    let durations: [(CodingKeys, Double, ClosedRange<Double>)] = [
      (.idleTimeoutSeconds, idleTimeoutSeconds, 0...(365 * day)),
      (.keepaliveTimeSeconds, keepaliveTimeSeconds, 0...(365 * day)),
      (.keepaliveTimeoutSeconds, keepaliveTimeoutSeconds, 0.001...day),
      (.maxAgeSeconds, maxAgeSeconds, 0...(365 * day)),
      (.maxAgeGraceSeconds, maxAgeGraceSeconds, 0...(365 * day)),
      (.handshakeTimeoutSeconds, handshakeTimeoutSeconds, 0.001...3600),
    ]
    for (key, value, range) in durations where !range.contains(value) {
      throw ConfigurationError(
        "'connections.\(key.rawValue)' must be between \(range.lowerBound) and \(range.upperBound) seconds"
      )
    }
  }

  /// The bridge's limits; 0 becomes "never" where the key allows it.
  var limits: ConnectionLimits {
    func duration(_ seconds: Double) -> Duration { .milliseconds(Int64(seconds * 1000)) }
    func never(ifZero seconds: Double) -> Duration? { seconds > 0 ? duration(seconds) : nil }
    return ConnectionLimits(
      maxConcurrentStreams: maxConcurrentStreams,
      idleTimeout: never(ifZero: idleTimeoutSeconds),
      keepaliveTime: never(ifZero: keepaliveTimeSeconds),
      keepaliveTimeout: duration(keepaliveTimeoutSeconds),
      maxAge: never(ifZero: maxAgeSeconds),
      maxAgeGrace: duration(maxAgeGraceSeconds),
      handshakeTimeout: duration(handshakeTimeoutSeconds)
    )
  }
}
