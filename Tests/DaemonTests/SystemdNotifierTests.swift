import Daemon
import Glibc
import Testing

/// A fake $NOTIFY_SOCKET: a bound unix datagram socket that collects notifications.
private final class FakeNotifySocket {
  let path: String
  let fd: Int32

  init() throws {
    self.path = "/tmp/rlhfd-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
    self.fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(self.path.utf8)) }
    let rc = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(self.fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    try #require(rc == 0)
    var timeout = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(self.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
  }

  func receive() -> String? {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = recv(self.fd, &buffer, buffer.count, 0)
    return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : nil
  }

  deinit {
    close(self.fd)
    unlink(self.path)
  }
}

@Suite struct SystemdNotifierTests {
  @Test func sendsReadyAndStopping() throws {
    let socket = try FakeNotifySocket()
    let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path])
    notifier.ready(status: "serving on 127.0.0.1:1")
    let ready = try #require(socket.receive())
    #expect(ready.contains("READY=1"))
    #expect(ready.contains("STATUS=serving on 127.0.0.1:1"))
    #expect(ready.contains("MAINPID=\(getpid())"))
    notifier.stopping(status: "draining")
    let stopping = try #require(socket.receive())
    #expect(stopping.hasPrefix("STOPPING=1"))
  }

  @Test func withoutSocketDoesNothing() {
    let notifier = SystemdNotifier(environment: [:])
    #expect(notifier.socketPath == nil)
    notifier.ready(status: "x")  // must not crash or block
  }
}
