import Foundation
import Glibc
import Prometheus
import Testing

@testable import Observability

/// The /metrics listener over a real TCP socket on 127.0.0.1.
@Suite struct MetricsEndpointTests {
  /// One HTTP/1.1 request to 127.0.0.1:`port`; the whole response (the server closes).
  static func request(_ text: String, port: Int) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #expect(fd >= 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    try #require(connected == 0)
    _ = Array(text.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if n <= 0 { break }
      response += buffer[0..<n]
    }
    return String(decoding: response, as: UTF8.self)
  }

  @Test func servesTheRegistry() throws {
    let registry = PrometheusCollectorRegistry()
    let counter = registry.makeCounter(name: "rlhfd_test_total", labels: [("model", "policy")])
    counter.increment(by: Int64(3))
    let endpoint = try MetricsEndpoint(address: "127.0.0.1:0", registry: registry)
    defer { endpoint.stop() }
    #expect(endpoint.port > 0)
    let ok = try Self.request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: endpoint.port)
    #expect(ok.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(ok)")
    #expect(ok.contains("Content-Type: text/plain; version=0.0.4"))
    #expect(ok.contains("rlhfd_test_total{model=\"policy\"} 3"), "\(ok)")
    let missing = try Self.request("GET /other HTTP/1.1\r\n\r\n", port: endpoint.port)
    #expect(missing.hasPrefix("HTTP/1.1 404"), "\(missing)")
    let post = try Self.request("POST /metrics HTTP/1.1\r\n\r\n", port: endpoint.port)
    #expect(post.hasPrefix("HTTP/1.1 405"), "\(post)")
    let garbage = try Self.request("\r\n\r\n", port: endpoint.port)
    #expect(garbage.hasPrefix("HTTP/1.1 400"), "\(garbage)")
  }

  @Test func refusesBadAddresses() {
    for address in ["localhost:9464", "127.0.0.1", "127.0.0.1:99999", "[::1"] {
      #expect(throws: MetricsEndpointError.self, "\(address)") {
        _ = try MetricsEndpoint(address: address, registry: PrometheusCollectorRegistry())
      }
    }
  }

  @Test func aBusyPortIsAClearError() throws {
    let first = try MetricsEndpoint(address: "127.0.0.1:0", registry: PrometheusCollectorRegistry())
    defer { first.stop() }
    do {
      _ = try MetricsEndpoint(
        address: "127.0.0.1:\(first.port)",
        registry: PrometheusCollectorRegistry()
      )
      Issue.record("a second listener on the same port started")
    } catch {
      #expect(error.description.contains("cannot listen"), "\(error)")
    }
  }
}
