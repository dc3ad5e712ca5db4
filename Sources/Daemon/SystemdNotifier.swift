// sd_notify(3) without libsystemd: one datagram to the unix socket in $NOTIFY_SOCKET.
// With Type=notify, systemd waits for READY=1 before it considers the unit started, and
// STOPPING=1 tells it that shutdown has begun. Without $NOTIFY_SOCKET this does nothing.
import Glibc

public struct SystemdNotifier: Sendable {
  /// The socket path; a leading "@" names an abstract socket. Nil: not started by systemd.
  public let socketPath: String?

  public init(environment: [String: String]) {
    let path = environment["NOTIFY_SOCKET"]
    self.socketPath = (path?.isEmpty ?? true) ? nil : path
  }

  public func ready(status: String) { self.send("READY=1\nSTATUS=\(status)\nMAINPID=\(getpid())") }
  public func stopping(status: String) { self.send("STOPPING=1\nSTATUS=\(status)") }

  /// Sends one notification; failures are ignored, as sd_notify's callers do.
  public func send(_ message: String) {
    guard let socketPath else { return }
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return }
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    var pathBytes = Array(socketPath.utf8)
    if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }  // abstract namespace
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard pathBytes.count < capacity else { return }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      raw.copyBytes(from: pathBytes)
    }
    let length = socklen_t(
      MemoryLayout<sa_family_t>.size + pathBytes.count + (pathBytes.first == 0 ? 0 : 1)
    )
    let bytes = Array(message.utf8)
    _ = withUnsafePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
        bytes.withUnsafeBytes {
          sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), socketAddress, length)
        }
      }
    }
  }
}
