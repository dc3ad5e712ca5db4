// A setting that makes no sense, with a message naming it: the daemon refuses to start with it.

public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { self.message }
}
