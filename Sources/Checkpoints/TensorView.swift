// A borrowed view of one tensor's bytes inside a SafeTensorsFile, and exact conversion of F32,
// F16 and BF16 elements to Float (every half and bfloat16 value, including subnormals, infinities
// and NaN payloads, is exactly representable as Float). Data offsets need not be aligned, so all
// reads are unaligned little-endian loads.

/// One tensor of a validated safetensors file. Holds the file, so the bytes stay mapped.
public struct TensorView: @unchecked Sendable {
  // Sendable: the bytes are read-only and owned by `owner`, which is immutable.

  public let info: TensorInfo
  /// The file the tensor came from, for messages.
  public let file: String
  /// The raw little-endian, row-major (C order) elements.
  public let bytes: UnsafeRawBufferPointer
  let owner: AnyObject

  init(info: TensorInfo, file: String, bytes: UnsafeRawBufferPointer, owner: AnyObject) {
    self.info = info
    self.file = file
    self.bytes = bytes
    self.owner = owner
  }

  /// Tells the kernel these bytes will not be read again soon (their contents were copied):
  /// mapped pages are dropped from memory and re-read from the file if ever touched.
  public func releaseResidentPages() {
    (owner as? SafeTensorsFile)?.releaseResidentPages(bytes)
  }

  public var name: String { info.name }
  public var dtype: DType { info.dtype }
  public var shape: [Int] { info.shape }
  public var elementCount: Int { info.elementCount }
  public var byteCount: Int { bytes.count }

  /// The elements converted to Float.
  public func floats() throws(CheckpointError) -> [Float] {
    try checkConvertible()
    return [Float](unsafeUninitializedCapacity: elementCount) { buffer, count in
      convert(into: buffer)
      count = elementCount
    }
  }

  /// Converts the elements into `destination`, which must hold exactly `elementCount` floats.
  public func copyFloats(into destination: UnsafeMutableBufferPointer<Float>)
    throws(CheckpointError)
  {
    try checkConvertible()
    guard destination.count == elementCount else {
      throw CheckpointError(
        .shapeMismatch,
        "\(file): tensor '\(name)' has \(elementCount) elements, destination holds \(destination.count)"
      )
    }
    convert(into: destination)
  }

  /// Throws unless the shape is exactly `expected`.
  public func expectShape(_ expected: [Int]) throws(CheckpointError) {
    guard shape == expected else {
      throw CheckpointError(
        .shapeMismatch,
        "\(file): tensor '\(name)': expected shape \(expected), got \(shape)"
      )
    }
  }

  private func checkConvertible() throws(CheckpointError) {
    guard dtype.isConvertibleToFloat else {
      throw CheckpointError(
        .unsupportedDType,
        "\(file): tensor '\(name)' has dtype \(dtype); supported are F32, F16 and BF16"
      )
    }
  }

  private func convert(into destination: UnsafeMutableBufferPointer<Float>) {
    let source = bytes
    switch dtype {
    case .f32:
      #if _endian(little)
        UnsafeMutableRawBufferPointer(destination).copyMemory(from: source)
      #else
        for i in 0..<elementCount {
          let bits = UInt32(
            littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
          )
          destination[i] = Float(bitPattern: bits)
        }
      #endif
    case .f16:
      for i in 0..<elementCount {
        let bits = UInt16(
          littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
        )
        destination[i] = floatFromHalfBits(bits)
      }
    case .bf16:
      for i in 0..<elementCount {
        let bits = UInt16(
          littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
        )
        destination[i] = floatFromBFloat16Bits(bits)
      }
    default:
      preconditionFailure("convert called for \(dtype)")
    }
  }
}

/// IEEE 754 binary16 → binary32, exact.
@inline(__always)
public func floatFromHalfBits(_ half: UInt16) -> Float {
  let sign = UInt32(half & 0x8000) << 16
  let exponent = UInt32(half >> 10) & 0x1F
  let mantissa = UInt32(half & 0x3FF)
  if exponent == 0x1F {
    // Infinity or NaN: keep the payload (shifted into the top of the float mantissa).
    return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
  }
  if exponent == 0 {
    // Zero or subnormal: mantissa × 2^-24, exact in Float.
    let magnitude = Float(mantissa) * 0x1p-24
    return sign == 0 ? magnitude : -magnitude
  }
  return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
}

/// bfloat16 → binary32, exact (bfloat16 is the top half of a binary32).
@inline(__always)
public func floatFromBFloat16Bits(_ bits: UInt16) -> Float {
  Float(bitPattern: UInt32(bits) << 16)
}
