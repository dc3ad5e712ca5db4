// The daemon's settings: a YAML file (`rlhfd serve --config FILE`), then command-line flags on top.
// Unknown keys are errors, so a typo never silently falls back to a default.
import Foundation
public import GRPCBridge
import Yams

/// Everything `rlhfd serve` needs to start. Field names are the YAML keys.
public struct DaemonConfiguration: Codable, Sendable, Equatable {
  /// gRPC addresses: `host:port`, `unix:/path`, `unix-abstract:name`.
  public var listen: [String] = ["127.0.0.1:50051"]
  public var tls: TLSFiles? = nil
  /// Largest request accepted (requests carry images), in bytes.
  public var maxReceiveMessageBytes: Int = 32 << 20
  /// Largest response sent, in bytes.
  public var maxSendMessageBytes: Int = 32 << 20
  /// How long SIGTERM waits for in-flight calls before cancelling them, in seconds.
  public var drainTimeoutSeconds: Double = 10
  /// trace, debug, info, notice, warning, error, critical.
  public var logLevel: String = "info"
  /// Serve `rlhfd.v1.Debug` (Sleep, Echo, Ticks): for tests and diagnostics, never in production.
  public var debugService: Bool = false

  public struct TLSFiles: Codable, Sendable, Equatable {
    /// PEM certificate chain of the server.
    public var certificate: String
    /// PEM private key of the server.
    public var privateKey: String
    /// PEM CA bundle for client certificates; enables them.
    public var clientCA: String? = nil
    /// With `client_ca`: refuse clients without a valid certificate (mutual TLS).
    public var requireClientCertificate: Bool = false

    public init(
      certificate: String,
      privateKey: String,
      clientCA: String? = nil,
      requireClientCertificate: Bool = false
    ) {
      self.certificate = certificate
      self.privateKey = privateKey
      self.clientCA = clientCA
      self.requireClientCertificate = requireClientCertificate
    }

    public init(from decoder: any Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      self.certificate = try c.decode(String.self, forKey: .certificate)
      self.privateKey = try c.decode(String.self, forKey: .privateKey)
      self.clientCA = try c.decodeIfPresent(String.self, forKey: .clientCA)
      self.requireClientCertificate =
        try c.decodeIfPresent(Bool.self, forKey: .requireClientCertificate) ?? false
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
      case certificate
      case privateKey = "private_key"
      case clientCA = "client_ca"
      case requireClientCertificate = "require_client_certificate"
    }
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case listen, tls
    case maxReceiveMessageBytes = "max_receive_message_bytes"
    case maxSendMessageBytes = "max_send_message_bytes"
    case drainTimeoutSeconds = "drain_timeout_seconds"
    case logLevel = "log_level"
    case debugService = "debug_service"
  }

  public init() {}

  public init(from decoder: any Decoder) throws {
    let defaults = DaemonConfiguration()
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.listen = try c.decodeIfPresent([String].self, forKey: .listen) ?? defaults.listen
    self.tls = try c.decodeIfPresent(TLSFiles.self, forKey: .tls)
    self.maxReceiveMessageBytes =
      try c.decodeIfPresent(Int.self, forKey: .maxReceiveMessageBytes)
      ?? defaults.maxReceiveMessageBytes
    self.maxSendMessageBytes =
      try c.decodeIfPresent(Int.self, forKey: .maxSendMessageBytes) ?? defaults.maxSendMessageBytes
    self.drainTimeoutSeconds =
      try c.decodeIfPresent(Double.self, forKey: .drainTimeoutSeconds)
      ?? defaults.drainTimeoutSeconds
    self.logLevel = try c.decodeIfPresent(String.self, forKey: .logLevel) ?? defaults.logLevel
    self.debugService =
      try c.decodeIfPresent(Bool.self, forKey: .debugService) ?? defaults.debugService
  }

  /// Parses YAML text; rejects unknown keys and values out of range.
  public static func parse(yaml: String) throws(ConfigurationError) -> DaemonConfiguration {
    let node: Node?
    do { node = try Yams.compose(yaml: yaml) } catch {
      throw ConfigurationError("the configuration is not valid YAML: \(error)")
    }
    guard let node else { return DaemonConfiguration() }
    guard let mapping = node.mapping else {
      throw ConfigurationError("the configuration must be a mapping of keys to values")
    }
    try Self.checkKeys(mapping, allowed: CodingKeys.allCases.map(\.rawValue), path: "")
    if let tls = mapping["tls"]?.mapping {
      try Self.checkKeys(tls, allowed: TLSFiles.CodingKeys.allCases.map(\.rawValue), path: "tls.")
    }
    let configuration: DaemonConfiguration
    do { configuration = try YAMLDecoder().decode(DaemonConfiguration.self, from: node) } catch {
      throw ConfigurationError("the configuration has a value of the wrong type: \(error)")
    }
    try configuration.validate()
    return configuration
  }

  public static func load(path: String) throws(ConfigurationError) -> DaemonConfiguration {
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
      throw ConfigurationError(
        "cannot read the configuration file \(path): \(error.localizedDescription)"
      )
    }
    return try Self.parse(yaml: text)
  }

  private static func checkKeys(_ mapping: Node.Mapping, allowed: [String], path: String)
    throws(ConfigurationError)
  {
    for key in mapping.keys {
      let name = key.string ?? "\(key)"
      if !allowed.contains(name) {
        throw ConfigurationError(
          "unknown configuration key '\(path)\(name)'; known keys: \(allowed.sorted().joined(separator: ", "))"
        )
      }
    }
  }

  /// Checks values that decode but make no sense.
  public func validate() throws(ConfigurationError) {
    if self.listen.isEmpty { throw ConfigurationError("'listen' needs at least one address") }
    if self.listen.contains(where: \.isEmpty) {
      throw ConfigurationError("'listen' has an empty address")
    }
    if self.maxReceiveMessageBytes < 1024 || self.maxReceiveMessageBytes > Int(Int32.max) {
      throw ConfigurationError("'max_receive_message_bytes' must be between 1024 and \(Int32.max)")
    }
    if self.maxSendMessageBytes < 1024 || self.maxSendMessageBytes > Int(Int32.max) {
      throw ConfigurationError("'max_send_message_bytes' must be between 1024 and \(Int32.max)")
    }
    if !(self.drainTimeoutSeconds >= 0 && self.drainTimeoutSeconds <= 3600) {
      throw ConfigurationError("'drain_timeout_seconds' must be between 0 and 3600")
    }
    if LogLevelName(self.logLevel) == nil {
      throw ConfigurationError(
        "'log_level' must be one of \(LogLevelName.allNames.joined(separator: ", ")), not '\(self.logLevel)'"
      )
    }
  }

  /// The bridge settings, reading TLS files from disk.
  public func bridgeConfiguration() throws(ConfigurationError) -> BridgeConfiguration {
    var tls: BridgeConfiguration.TLS?
    if let files = self.tls {
      tls = BridgeConfiguration.TLS(
        certificateChainPEM: try Self.readPEM(files.certificate, what: "tls.certificate"),
        privateKeyPEM: try Self.readPEM(files.privateKey, what: "tls.private_key"),
        clientCAPEM: try files.clientCA.map { path throws(ConfigurationError) in
          try Self.readPEM(path, what: "tls.client_ca")
        },
        requireClientCertificate: files.requireClientCertificate
      )
      if files.requireClientCertificate && files.clientCA == nil {
        throw ConfigurationError("'tls.require_client_certificate' needs 'tls.client_ca'")
      }
    }
    return BridgeConfiguration(
      addresses: self.listen,
      tls: tls,
      maxReceiveMessageBytes: self.maxReceiveMessageBytes,
      maxSendMessageBytes: self.maxSendMessageBytes,
      drainTimeout: .milliseconds(Int64(self.drainTimeoutSeconds * 1000))
    )
  }

  private static func readPEM(_ path: String, what: String) throws(ConfigurationError) -> String {
    do {
      let text = try String(contentsOfFile: path, encoding: .utf8)
      guard text.contains("-----BEGIN ") else {
        throw ConfigurationError("\(what): \(path) is not a PEM file")
      }
      return text
    } catch let error as ConfigurationError {
      throw error
    } catch {
      throw ConfigurationError("\(what): cannot read \(path): \(error.localizedDescription)")
    }
  }
}

/// A configuration that cannot be used, with a message that says what to fix.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { self.message }
}
