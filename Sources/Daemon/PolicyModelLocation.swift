// Where the policy checkpoint is: the configured directory, or the embedded default model
// (`models/default/policy`), looked up in the working directory and then in the source
// checkout this binary was built from.
import Foundation

public enum PolicyModelLocation {
  /// The default model, relative to a checkout's root.
  public static let embeddedDefault = "models/default/policy"

  /// The checkout root, from this file's compile-time path (Sources/Daemon/<file>).
  static let checkoutRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

  /// The directory to load, nil for no model; throws when it cannot be found.
  public static func resolve(_ configured: String?) throws(ConfigurationError) -> String? {
    if configured == DaemonConfiguration.noModel { return nil }
    let manager = FileManager.default
    func isModel(_ path: String) -> Bool {
      manager.fileExists(atPath: path + "/config.json")
    }
    if let configured {
      guard isModel(configured) else {
        throw ConfigurationError(
          "policy_model: \(configured) is not a model directory (no config.json there)"
        )
      }
      return configured
    }
    let candidates = [
      manager.currentDirectoryPath + "/" + embeddedDefault,
      checkoutRoot + "/" + embeddedDefault,
    ]
    if let found = candidates.first(where: isModel) { return found }
    throw ConfigurationError(
      "no policy model configured and the embedded default is missing (looked in "
        + candidates.joined(separator: ", ")
        + "); set policy_model / --policy-model, or --no-model to serve without one"
    )
  }
}
