// Prometheus's text exposition over plain HTTP/1.1 on its own listener: `GET /metrics` answers
// the registry's samples, anything else 404 (405 for other methods). One thread accepts and
// answers each connection in turn (a scrape is a few kilobytes, every few seconds), with read
// and write timeouts so a silent client cannot hold it; `Connection: close` after each answer.
// Knows nothing of rlhfd: the daemon bootstraps swift-metrics with this registry.
import Foundation
import Glibc
public import Prometheus
import Synchronization

/// Why the endpoint could not start.
public struct MetricsEndpointError: Error, CustomStringConvertible, Sendable {
  public let description: String
}

/// The HTTP listener for `/metrics`.
public final class MetricsEndpoint: Sendable {
  public let registry: PrometheusCollectorRegistry
  /// The bound port (useful when the address asked for port 0).
  public let port: Int
  private let fd: Int32
  private let stopped = Atomic<Bool>(false)
  private let finished = Mutex<Bool>(false)

  /// Binds `address` ("127.0.0.1:9464", "[::1]:9464", "0.0.0.0:0") and starts serving.
  public init(address: String, registry: PrometheusCollectorRegistry) throws(MetricsEndpointError) {
    self.registry = registry
    let (fd, port) = try Self.bind(address)
    self.fd = fd
    self.port = port
    let thread = Thread { [self] in self.serve() }
    thread.name = "rlhfd-metrics"
    thread.start()
  }

  /// Stops accepting (the serving thread ends within ~200 ms).
  public func stop() { stopped.store(true, ordering: .relaxed) }

  deinit { close(fd) }

  private func serve() {
    while !stopped.load(ordering: .relaxed) {
      var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      guard poll(&poller, 1, 200) > 0 else { continue }
      let client = accept(fd, nil, nil)
      guard client >= 0 else { continue }
      _ = fcntl(client, F_SETFD, FD_CLOEXEC)
      answer(client)
      close(client)
    }
  }

  private func answer(_ client: Int32) {
    var timeout = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var request: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    // The request head only (a scrape has no body); at most 16 KiB.
    while request.count < 16 << 10 {
      let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
      if n <= 0 { break }
      request += buffer[0..<n]
      if request.count >= 4,
        request.suffix(from: max(0, request.count - n - 3))
          .firstRange(of: Array("\r\n\r\n".utf8)) != nil
      {
        break
      }
    }
    let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
    let parts = line.split(separator: " ")
    let response: (String, String, [UInt8])
    if parts.count < 2 {
      response = ("400 Bad Request", "text/plain", Array("bad request\n".utf8))
    } else if parts[0] != "GET" && parts[0] != "HEAD" {
      response = ("405 Method Not Allowed", "text/plain", Array("GET /metrics\n".utf8))
    } else if parts[1].split(separator: "?").first != "/metrics" {
      response = ("404 Not Found", "text/plain", Array("try /metrics\n".utf8))
    } else {
      var body: [UInt8] = []
      registry.emit(into: &body)
      response = ("200 OK", "text/plain; version=0.0.4; charset=utf-8", body)
    }
    let body = parts.first == "HEAD" ? [] : response.2
    let head =
      "HTTP/1.1 \(response.0)\r\nContent-Type: \(response.1)\r\n"
      + "Content-Length: \(response.2.count)\r\nConnection: close\r\n\r\n"
    send(client, Array(head.utf8) + body)
  }

  private func send(_ client: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
      let n = bytes.withUnsafeBytes {
        Glibc.send(client, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
      }
      if n <= 0 { return }
      offset += n
    }
  }

  /// A listening TCP socket on `address` and its port.
  private static func bind(_ address: String) throws(MetricsEndpointError) -> (Int32, Int) {
    guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[colon...].dropFirst())
    else {
      throw MetricsEndpointError(description: "metrics_listen: '\(address)' is not host:port")
    }
    var host = String(address[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    var hints = addrinfo()
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var info: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, String(port), &hints, &info) == 0, let info else {
      throw MetricsEndpointError(
        description: "metrics_listen: '\(address)' needs a numeric IPv4 or [IPv6] host"
      )
    }
    defer { freeaddrinfo(info) }
    let fd = socket(
      info.pointee.ai_family,
      Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
      0
    )
    guard fd >= 0 else { throw MetricsEndpointError(description: "socket: \(errno)") }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    guard Glibc.bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, listen(fd, 16) == 0
    else {
      let reason = String(cString: strerror(errno))
      close(fd)
      throw MetricsEndpointError(
        description: "metrics_listen: cannot listen on \(address): \(reason)"
      )
    }
    var bound = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    _ = withUnsafeMutablePointer(to: &bound) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    let boundPort = withUnsafeBytes(of: &bound) { raw -> UInt16 in
      // sin_port and sin6_port both sit at offset 2, in network byte order.
      UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
    }
    return (fd, Int(boundPort))
  }
}
