/// Errors raised when wrapping caller-provided memory.
public enum EngineError: Error, Equatable, CustomStringConvertible {
  case negativeDimension(shape: [Int])
  case byteCountMismatch(shape: [Int], dtype: WeightView.DType, expected: Int, actual: Int)
  case misaligned(dtype: WeightView.DType, address: UInt)

  public var description: String {
    switch self {
    case .negativeDimension(let shape):
      "negative dimension in shape \(shape)"
    case .byteCountMismatch(let shape, let dtype, let expected, let actual):
      "\(dtype) tensor of shape \(shape) needs \(expected) bytes, got \(actual)"
    case .misaligned(let dtype, let address):
      "\(dtype) data at 0x\(String(address, radix: 16)) is not aligned to \(dtype.byteSize) bytes"
    }
  }
}
