// Writing safetensors, the one header encoder (PEFT adapters, trainer checkpoints): F32 tensors
// laid out back to back in the order given, `__metadata__` first with its keys sorted, the JSON
// padded with spaces to a multiple of 8 bytes (as the Python writer does), preceded by its
// little-endian UInt64 length. What this writes, `SafeTensorsHeader.parse` accepts.

#if _endian(big)
  #error("safetensors data is little-endian; the writers copy Float memory as it is")
#endif

public enum SafeTensorsEncoder {
  /// The 8-byte length and the header JSON for F32 tensors stored in the order given, with no
  /// gap; the data section that follows is Σ count(shape) · 4 bytes.
  public static func header(
    _ tensors: [(name: String, shape: [Int])],
    metadata: [String: String]
  ) throws(CheckpointError) -> [UInt8] {
    var entries: [String] = []
    if !metadata.isEmpty {
      let fields = metadata.sorted { $0.key < $1.key }.map {
        "\(JSONText.quoted($0.key)):\(JSONText.quoted($0.value))"
      }
      entries.append("\"__metadata__\":{" + fields.joined(separator: ",") + "}")
    }
    var names = Set<String>()
    var offset = 0
    for tensor in tensors {
      guard tensor.name != "__metadata__", names.insert(tensor.name).inserted else {
        throw CheckpointError(
          .invalidHeader,
          "tensor name '\(tensor.name)' is reserved or repeated"
        )
      }
      guard tensor.shape.allSatisfy({ $0 >= 0 }) else {
        throw CheckpointError(.invalidShape, "tensor '\(tensor.name)': shape \(tensor.shape)")
      }
      let end = offset + tensor.shape.reduce(1, *) * MemoryLayout<Float>.size
      let shape = tensor.shape.map(String.init).joined(separator: ",")
      entries.append(
        "\(JSONText.quoted(tensor.name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}"
      )
      offset = end
    }
    var json = Array(("{" + entries.joined(separator: ",") + "}").utf8)
    while json.count % 8 != 0 { json.append(0x20) }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(8 + json.count)
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes += $0 }
    return bytes + json
  }

  /// A whole file image of small F32 tensors (adapters, tests), in the order given.
  public static func bytes(
    _ tensors: [(name: String, shape: [Int], values: [Float])],
    metadata: [String: String]
  ) throws(CheckpointError) -> [UInt8] {
    for tensor in tensors where tensor.values.count != tensor.shape.reduce(1, *) {
      throw CheckpointError(
        .sizeMismatch,
        "tensor '\(tensor.name)': \(tensor.values.count) values for shape \(tensor.shape)"
      )
    }
    var bytes = try header(tensors.map { ($0.name, $0.shape) }, metadata: metadata)
    for tensor in tensors {
      tensor.values.withUnsafeBytes { bytes += $0 }
    }
    return bytes
  }
}
