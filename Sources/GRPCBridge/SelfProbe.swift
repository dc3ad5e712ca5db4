// A unary call to this process's own listener over a fresh connection (the C core's client,
// CGRPCShim/probe.c). The daemon's watchdog uses it: a listener that stopped accepting (the C
// core's CVE-2023-4785 after descriptor exhaustion) fails the probe, the watchdog stops
// pinging, and systemd restarts the service. Knows no service: the caller brings the method
// and the message bytes.
internal import CGRPCShim

public enum SelfProbe {
  /// What the call returned: the gRPC status code, its message, the response bytes.
  public struct Outcome: Sendable, Equatable {
    public var status: Int32
    public var message: String
    public var response: [UInt8]
  }

  /// Calls `method` (e.g. "/grpc.health.v1.Health/Check") at `target` ("127.0.0.1:50051",
  /// "unix:/path") with `request`, waiting at most `timeout`. Blocks the calling thread.
  public static func unary(
    target: String,
    method: String,
    request: [UInt8],
    timeout: Duration
  ) -> Outcome {
    let (seconds, attoseconds) = timeout.components
    let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    var response = [UInt8](repeating: 0, count: 4096)
    var details = [CChar](repeating: 0, count: 512)
    var length = 0
    let status = response.withUnsafeMutableBufferPointer { out in
      details.withUnsafeMutableBufferPointer { text in
        cgrpc_probe_unary(
          target,
          method,
          request,
          request.count,
          max(1, milliseconds),
          out.baseAddress,
          out.count,
          &length,
          text.baseAddress,
          text.count
        )
      }
    }
    let message = details.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    return Outcome(
      status: status,
      message: message,
      response: Array(response.prefix(min(length, response.count)))
    )
  }
}
