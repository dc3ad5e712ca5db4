// Log level names as they appear in configuration and flags.
public import Logging

public struct LogLevelName: Sendable {
  public let level: Logger.Level

  public init?(_ name: String) {
    guard let level = Logger.Level(rawValue: name.lowercased()) else { return nil }
    self.level = level
  }

  public static let allNames = Logger.Level.allCases.map(\.rawValue)
}
