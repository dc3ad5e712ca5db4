import Services
// `policy_versions:` in the configuration: LoRA adapters (PEFT directories) served beside the
// base model, registered in the store at the first start that lists them, and
// `promoted_policy_version:`, the version promoted at the first start (later starts keep the
// store's promotion).
import Serving
import ServingTypes
import Yams

/// One configured policy version.
public struct PolicyVersionConfiguration: Codable, Sendable, Equatable {
  /// The version id (as in GenerateRequest.policy_version).
  public var id: String
  /// The PEFT adapter directory (`adapter_config.json`, `adapter_model.safetensors`).
  public var adapter: String
  /// The version it derives from; nil = `base`.
  public var parent: String?

  public init(id: String, adapter: String, parent: String? = nil) {
    self.id = id
    self.adapter = adapter
    self.parent = parent
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case id, adapter, parent
  }
}

extension DaemonConfiguration {
  /// Checks ids, uniqueness and the promoted version.
  func validateVersions() throws(ConfigurationError) {
    var seen: Set<String> = [PolicyVersionInfo.baseID]
    for (index, version) in policyVersions.enumerated() {
      let field = "'policy_versions[\(index)]"
      if let problem = PolicyVersionInfo.problem(withID: version.id) {
        throw ConfigurationError("\(field).id' \(problem)")
      }
      if !seen.insert(version.id).inserted {
        throw ConfigurationError("\(field).id' '\(version.id)' is used twice (or is 'base')")
      }
      if version.adapter.isEmpty { throw ConfigurationError("\(field).adapter' is empty") }
      if let parent = version.parent, !seen.contains(parent) {
        throw ConfigurationError(
          "\(field).parent' '\(parent)' is not 'base' or a version listed before it"
        )
      }
    }
    if let promoted = promotedPolicyVersion, !seen.contains(promoted) {
      throw ConfigurationError(
        "'promoted_policy_version' '\(promoted)' is not 'base' or an id of 'policy_versions'"
      )
    }
  }

  /// Rejects unknown keys in the entries of `policy_versions`.
  static func checkVersionKeys(_ node: Node?) throws(ConfigurationError) {
    guard let entries = node?.sequence else { return }
    let allowed = PolicyVersionConfiguration.CodingKeys.allCases.map(\.rawValue)
    for (index, entry) in entries.enumerated() {
      for key in entry.mapping.map { Array($0.keys) } ?? [] {
        let name = key.string ?? "\(key)"
        if !allowed.contains(name) {
          throw ConfigurationError(
            "unknown configuration key 'policy_versions[\(index)].\(name)'; known keys: \(allowed.sorted().joined(separator: ", "))"
          )
        }
      }
    }
  }
}
