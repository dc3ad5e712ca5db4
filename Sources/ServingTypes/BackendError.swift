// The one error type of the backends (policy, reward, model info): a code the services map to a
// gRPC status, and a message for the client.

/// A failure the backend can explain; the service maps `code` to the gRPC status.
public struct BackendError: Error, Sendable, Equatable, CustomStringConvertible {
  public enum Code: Sendable, Equatable {
    case invalidArgument, notFound, resourceExhausted, unavailable, deadlineExceeded, internalError
    case alreadyExists, failedPrecondition
  }
  public var code: Code
  public var message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}
