// The `tls:` section of the configuration: the server's certificate and key, and client CAs.

extension DaemonConfiguration {
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
}
