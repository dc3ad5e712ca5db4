// The policy runner's versions: the base model is the version `settings.policyVersion`; the
// loader validates adapters against the runner's base checkpoint.
import Models
public import ServingTypes

extension ModelRunner {
  static func baseVersion(_ settings: ModelRunnerSettings) -> PolicyVersionInfo {
    PolicyVersionInfo(
      id: settings.policyVersion,
      parent: "",
      source: "base",
      adapterPath: nil,
      createdUnixMs: 0
    )
  }

  /// Loads PEFT adapters that fit this runner's base model.
  public var adapterLoader: any AdapterLoader { LoRAAdapterLoader(base: model.weights) }
}
