import Foundation
// The state directory (`state_directory`): where the daemon keeps what outlives a run — the
// OpenBLAS kernel choice today, the feedback database later.
public import Serving

public enum StateDirectory {
  /// The default when `state_directory` is unset: systemd's `$STATE_DIRECTORY` (the first of
  /// its list, from `StateDirectory=rlhfd`), else `$XDG_STATE_HOME/rlhfd`, else
  /// `$HOME/.local/state/rlhfd`; nil when none of them is set.
  public static func defaultPath(environment: [String: String]) -> String? {
    if let list = environment["STATE_DIRECTORY"],
      let first = list.split(separator: ":").first(where: { !$0.isEmpty })
    {
      return String(first)
    }
    if let base = environment["XDG_STATE_HOME"], base.hasPrefix("/") { return base + "/rlhfd" }
    if let home = environment["HOME"], home.hasPrefix("/") { return home + "/.local/state/rlhfd" }
    return nil
  }

  /// Creates `path` and its parents if missing (owner-only access); returns it.
  @discardableResult
  public static func prepare(_ path: String) throws(ConfigurationError) -> String {
    do {
      try FileManager.default.createDirectory(
        atPath: path,
        withIntermediateDirectories: true,
        attributes: [.posixPermissions: 0o700]
      )
    } catch {
      throw ConfigurationError(
        "cannot create the state directory \(path): \(error.localizedDescription)"
      )
    }
    guard FileManager.default.isWritableFile(atPath: path) else {
      throw ConfigurationError("the state directory \(path) is not writable")
    }
    return path
  }
}
