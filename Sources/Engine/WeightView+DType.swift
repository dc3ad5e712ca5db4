extension WeightView {
  /// Element types that weights may be stored in. Compute is always fp32. (Nested, so that it
  /// does not clash with the `Checkpoints` module's safetensors `DType` in code that imports both.)
  public enum DType: Sendable, Hashable, CustomStringConvertible {
    /// IEEE binary32.
    case f32
    /// IEEE binary16 (half).
    case f16
    /// bfloat16: the upper 16 bits of an IEEE binary32.
    case bf16

    /// Bytes per element.
    public var byteSize: Int {
      switch self {
      case .f32: 4
      case .f16, .bf16: 2
      }
    }

    public var description: String {
      switch self {
      case .f32: "f32"
      case .f16: "f16"
      case .bf16: "bf16"
      }
    }
  }
}
