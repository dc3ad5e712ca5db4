import Foundation
// Where the policy checkpoint is: the configured directory, or the embedded default model
// (`models/world/policy`, trained on the synthetic world: tools/demo, models/README.md), looked
// up in the working directory and then in the source checkout this binary was built from. The
// random tiny checkpoints in `models/default/` are test fixtures, named explicitly where used.
public import Serving

public enum PolicyModelLocation {
  /// The default model, relative to a checkout's root.
  public static let embeddedDefault = "models/world/policy"

  /// The checkout root, from this file's compile-time path (Sources/Daemon/<file>).
  static let checkoutRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

  /// The directory to load, nil for no model; throws when it cannot be found.
  public static func resolve(_ configured: String?) throws(ConfigurationError) -> String? {
    try resolve(configured, default: embeddedDefault, key: "policy_model")
  }

  /// The embedded default reward model (the world's factual reward model).
  public static let embeddedRewardDefault = "models/world/reward"

  /// The reward model directory to load, nil for none.
  public static func resolveReward(_ configured: String?) throws(ConfigurationError) -> String? {
    try resolve(configured, default: embeddedRewardDefault, key: "reward_model")
  }

  static func resolve(
    _ configured: String?,
    default embeddedDefault: String,
    key: String
  ) throws(ConfigurationError) -> String? {
    if configured == DaemonConfiguration.noModel { return nil }
    let manager = FileManager.default
    func isModel(_ path: String) -> Bool {
      manager.fileExists(atPath: path + "/config.json")
    }
    if let configured {
      guard isModel(configured) else {
        throw ConfigurationError(
          "\(key): \(configured) is not a model directory (no config.json there)"
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
      "no \(key) configured and the embedded default is missing (looked in "
        + candidates.joined(separator: ", ")
        + "); set \(key) / --\(key.replacingOccurrences(of: "_", with: "-")), or --no-model to serve without one"
    )
  }
}
