// The safetensors header, validated in full before any tensor is touched (research/reliability.md
// G1; the rules of safetensors' README "Format" and its Rust reader `tensor.rs`):
//   8-byte little-endian N; N <= cap; 8 + N <= file size; the header is UTF-8 JSON starting with
//   `{`, an object without duplicate keys; each entry {dtype, shape, data_offsets} with a known
//   dtype, non-negative integer dims, `begin <= end`, `end - begin == product(shape) * bits / 8`
//   (overflow-checked, bits divisible by 8); sorted by offset the tensors tile the data section
//   exactly (no overlap, no hole, nothing after the last); `__metadata__` maps strings to strings.

/// Where one tensor lives in a safetensors file.
public struct TensorInfo: Sendable, Equatable {
  public var name: String
  public var dtype: DType
  public var shape: [Int]
  /// Byte range relative to the start of the data section (after the header).
  public var dataOffsets: Range<Int>
  public var elementCount: Int

  public var byteCount: Int { dataOffsets.count }
}

/// A validated safetensors header.
public struct SafeTensorsHeader: Sendable {
  /// The largest header accepted (the Rust reader's `MAX_HEADER_SIZE`).
  public static let maxHeaderSize = 100_000_000

  /// Tensors by name.
  public var tensors: [String: TensorInfo]
  /// `__metadata__`, empty when absent.
  public var metadata: [String: String]
  /// Offset of the data section in the file: 8 + header length.
  public var dataStart: Int

  /// Validates the whole file image `bytes` (header and data section) and returns its header.
  /// `file` names the file in error messages.
  public static func parse(
    _ bytes: UnsafeRawBufferPointer,
    file: String,
    maxHeaderSize: Int = SafeTensorsHeader.maxHeaderSize
  ) throws(CheckpointError) -> SafeTensorsHeader {
    guard bytes.count >= 8 else {
      throw CheckpointError(
        .truncated,
        "\(file): \(bytes.count) bytes, too short for the 8-byte header length"
      )
    }
    let length = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
    if length > UInt64(maxHeaderSize) {
      throw CheckpointError(
        .headerTooLarge,
        "\(file): header length \(length) is over the cap of \(maxHeaderSize) bytes"
      )
    }
    let (end, overflow) = length.addingReportingOverflow(8)
    guard !overflow, end <= UInt64(bytes.count) else {
      throw CheckpointError(
        .truncated,
        "\(file): header length \(length) runs past the end of the file (\(bytes.count) bytes)"
      )
    }
    let dataStart = Int(end)
    let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart])
    guard headerBytes.first == UInt8(ascii: "{") else {
      throw CheckpointError(.invalidJSON, "\(file): header does not start with '{'")
    }
    let json: JSONValue
    do {
      json = try StrictJSONParser.parse(headerBytes)
    } catch {
      throw CheckpointError(
        error.code,
        "\(file): header JSON at byte \(error.offset): \(error.reason)"
      )
    }
    guard case .object(let entries) = json else {
      throw CheckpointError(
        .invalidHeader,
        "\(file): header is \(json.typeName), expected an object"
      )
    }
    var header = SafeTensorsHeader(tensors: [:], metadata: [:], dataStart: dataStart)
    let dataLength = bytes.count - dataStart
    for (name, value) in entries.sorted(by: { $0.key < $1.key }) {
      if name == "__metadata__" {
        header.metadata = try parseMetadata(value, file: file)
      } else {
        header.tensors[name] = try parseTensor(name, value, file: file, dataLength: dataLength)
      }
    }
    try checkTiling(header.tensors.values, file: file, dataLength: dataLength)
    return header
  }

  private static func parseMetadata(_ value: JSONValue, file: String) throws(CheckpointError)
    -> [String: String]
  {
    guard case .object(let entries) = value else {
      throw CheckpointError(
        .invalidMetadata,
        "\(file): __metadata__ is \(value.typeName), expected an object"
      )
    }
    var metadata: [String: String] = [:]
    for (key, value) in entries {
      guard case .string(let text) = value else {
        throw CheckpointError(
          .invalidMetadata,
          "\(file): __metadata__['\(key)'] is \(value.typeName), expected a string"
        )
      }
      metadata[key] = text
    }
    return metadata
  }

  private static func parseTensor(
    _ name: String,
    _ value: JSONValue,
    file: String,
    dataLength: Int
  ) throws(CheckpointError) -> TensorInfo {
    let at = "\(file): tensor '\(name)'"
    guard case .object(let fields) = value else {
      throw CheckpointError(.invalidHeader, "\(at) is \(value.typeName), expected an object")
    }
    let extra = fields.keys.filter { !["dtype", "shape", "data_offsets"].contains($0) }.sorted()
    if !extra.isEmpty {
      throw CheckpointError(
        .invalidHeader,
        "\(at) has unknown fields: \(extra.joined(separator: ", "))"
      )
    }
    guard case .string(let dtypeName) = fields["dtype"] ?? .null else {
      throw CheckpointError(.invalidHeader, "\(at): dtype is missing or not a string")
    }
    guard let dtype = DType(rawValue: dtypeName) else {
      throw CheckpointError(.unknownDType, "\(at): unknown dtype '\(dtypeName)'")
    }
    guard case .array(let dims) = fields["shape"] ?? .null else {
      throw CheckpointError(.invalidShape, "\(at): shape is missing or not an array")
    }
    var shape: [Int] = []
    for dim in dims {
      switch dim.nonNegativeInteger {
      case .value(let size): shape.append(size)
      case .negative:
        throw CheckpointError(.invalidShape, "\(at): negative dimension in shape \(show(dims))")
      case .tooLarge:
        throw CheckpointError(.overflow, "\(at): dimension too large in shape \(show(dims))")
      case .notInteger, .notANumber:
        throw CheckpointError(
          .invalidShape,
          "\(at): shape \(show(dims)) has a non-integer dimension"
        )
      }
    }
    let offsets = try parseOffsets(fields["data_offsets"], at: at)
    guard offsets.end <= dataLength else {
      throw CheckpointError(
        .invalidOffsets,
        "\(at): data_offsets [\(offsets.begin), \(offsets.end)] run past the data section (\(dataLength) bytes)"
      )
    }
    var elements = 1
    for size in shape {
      let (product, overflow) = elements.multipliedReportingOverflow(by: size)
      if overflow {
        throw CheckpointError(.overflow, "\(at): element count of shape \(shape) overflows")
      }
      elements = product
    }
    let (bits, overflow) = elements.multipliedReportingOverflow(by: dtype.bitSize)
    if overflow {
      throw CheckpointError(.overflow, "\(at): byte size of shape \(shape) \(dtype) overflows")
    }
    guard bits % 8 == 0 else {
      throw CheckpointError(
        .sizeMismatch,
        "\(at): \(elements) elements of \(dtype) do not fill whole bytes"
      )
    }
    guard offsets.end - offsets.begin == bits / 8 else {
      throw CheckpointError(
        .sizeMismatch,
        "\(at): shape \(shape) \(dtype) needs \(bits / 8) bytes, data_offsets [\(offsets.begin), \(offsets.end)] span \(offsets.end - offsets.begin)"
      )
    }
    return TensorInfo(
      name: name,
      dtype: dtype,
      shape: shape,
      dataOffsets: offsets.begin..<offsets.end,
      elementCount: elements
    )
  }

  private static func parseOffsets(_ value: JSONValue?, at: String) throws(CheckpointError) -> (
    begin: Int, end: Int
  ) {
    guard case .array(let pair) = value ?? .null, pair.count == 2 else {
      throw CheckpointError(.invalidOffsets, "\(at): data_offsets must be an array of two integers")
    }
    var numbers: [Int] = []
    for item in pair {
      guard case .value(let number) = item.nonNegativeInteger else {
        throw CheckpointError(
          .invalidOffsets,
          "\(at): data_offsets \(show(pair)) are not non-negative integers"
        )
      }
      numbers.append(number)
    }
    guard numbers[0] <= numbers[1] else {
      throw CheckpointError(
        .invalidOffsets,
        "\(at): data_offsets end \(numbers[1]) is before begin \(numbers[0])"
      )
    }
    return (numbers[0], numbers[1])
  }

  /// Sorted by offset, the tensors must cover `0..<dataLength` exactly once.
  private static func checkTiling(
    _ tensors: some Collection<TensorInfo>,
    file: String,
    dataLength: Int
  ) throws(CheckpointError) {
    let sorted = tensors.sorted {
      ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name)
        < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name)
    }
    var covered = 0
    var previous = "the start of the data section"
    for tensor in sorted {
      let begin = tensor.dataOffsets.lowerBound
      if begin < covered {
        throw CheckpointError(
          .overlap,
          "\(file): tensor '\(tensor.name)' (from byte \(begin)) overlaps \(previous) (to byte \(covered))"
        )
      }
      if begin > covered {
        throw CheckpointError(
          .hole,
          "\(file): bytes \(covered)..<\(begin) between \(previous) and tensor '\(tensor.name)' belong to no tensor"
        )
      }
      covered = tensor.dataOffsets.upperBound
      previous = "tensor '\(tensor.name)'"
    }
    if covered != dataLength {
      throw CheckpointError(
        .hole,
        "\(file): bytes \(covered)..<\(dataLength) after \(previous) belong to no tensor"
      )
    }
  }

  private static func show(_ values: [JSONValue]) -> String {
    "["
      + values.map { if case .number(let text) = $0 { text } else { $0.typeName } }.joined(
        separator: ", "
      ) + "]"
  }
}
