// The settings' LoRA shape as the model layer takes it (one place for the module names).
public import Models

extension LoRASettings {
  /// `DecoderLoRASettings` for `DecoderTraining`; throws on an unknown module name.
  public func decoderSettings() throws(ModelError) -> DecoderLoRASettings {
    var linears: [DecoderLinear] = []
    for name in targets {
      guard let linear = DecoderLinear.allCases.first(where: { $0.moduleName == name }) else {
        throw .training("unknown LoRA target \(name)")
      }
      linears.append(linear)
    }
    return DecoderLoRASettings(
      targets: linears,
      rank: rank,
      alpha: Double(alpha),
      dropout: dropout
    )
  }
}
