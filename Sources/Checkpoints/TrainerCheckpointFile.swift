// The trainer checkpoint file (issue 13 §6): named F32 tensors and one metadata string (the
// trainer's JSON) in a safetensors file, with a checksum of the data section, written atomically
// (`FileIO.replaceFile`: temporary file beside the target, fsync, rename, fsync the directory).
// Generic: what the tensors and the string mean is the trainer's (Training maps its parameter
// sets onto it).
//
//   __metadata__: {"checksum": "<16 hex digits>", "format": "rlhfd-trainer-checkpoint/1",
//                  "metadata": "<the caller's string>"}
//   tensors: F32, in the order given, back to back
//
// Reading validates everything before a value is used: the safetensors rules (a truncated file,
// a header that runs past the end, holes and overlaps are errors), the format tag, F32 only, and
// the checksum over the whole data section (a flipped byte is an error, not a silent load).
// Errors are `CheckpointError` values; nothing here traps on a bad file.

/// Writing and reading a trainer checkpoint file.
public enum TrainerCheckpointFile {
  /// `__metadata__["format"]` of every file written; a file with another tag is refused.
  public static let format = "rlhfd-trainer-checkpoint/1"

  /// One tensor to write; `values` must stay valid for the duration of `write`.
  public struct Tensor {
    public var name: String
    public var shape: [Int]
    public var values: UnsafeBufferPointer<Float>

    public init(name: String, shape: [Int], values: UnsafeBufferPointer<Float>) {
      self.name = name
      self.shape = shape
      self.values = values
    }
  }

  /// A validated file: its tensors (mapped, read-only) and the caller's metadata string.
  public struct Contents: Sendable {
    public let file: SafeTensorsFile
    public let metadata: String

    public var tensorNames: [String] { file.tensorNames }

    public func info(_ name: String) -> TensorInfo? { file.info(name) }

    public func tensor(_ name: String) throws(CheckpointError) -> TensorView {
      try file.tensor(name)
    }
  }

  /// Writes `tensors` and `metadata` to `path` atomically, replacing the file there (if any).
  public static func write(
    _ tensors: [Tensor],
    metadata: String,
    to path: String
  ) throws(CheckpointError) {
    for tensor in tensors where tensor.values.count != tensor.shape.reduce(1, *) {
      throw CheckpointError(
        .sizeMismatch,
        "\(path): tensor '\(tensor.name)' has \(tensor.values.count) values for shape \(tensor.shape)"
      )
    }
    var hash = DataChecksum()
    for tensor in tensors { hash.add(UnsafeRawBufferPointer(tensor.values)) }
    let header = try SafeTensorsEncoder.header(
      tensors.map { ($0.name, $0.shape) },
      metadata: ["format": format, "checksum": hash.hex, "metadata": metadata]
    )
    try FileIO.replaceFile(path) { (sink) throws(CheckpointError) in
      try sink.write(header)
      for tensor in tensors { try sink.write(UnsafeRawBufferPointer(tensor.values)) }
    }
  }

  /// Maps and validates the file at `path` (see the file comment).
  public static func read(_ path: String) throws(CheckpointError) -> Contents {
    let file = try SafeTensorsFile(path: path)
    guard file.metadata["format"] == format else {
      let found = file.metadata["format"].map { "'\($0)'" } ?? "none"
      throw CheckpointError(
        .invalidMetadata,
        "\(path): not a trainer checkpoint (format \(found), expected '\(format)')"
      )
    }
    guard let metadata = file.metadata["metadata"], let expected = file.metadata["checksum"] else {
      throw CheckpointError(.invalidMetadata, "\(path): the metadata or the checksum is missing")
    }
    let tensors = file.header.tensors.values.sorted {
      $0.dataOffsets.lowerBound < $1.dataOffsets.lowerBound
    }
    var hash = DataChecksum()
    for info in tensors {
      guard info.dtype == .f32 else {
        throw CheckpointError(
          .unsupportedDType,
          "\(path): tensor '\(info.name)' is \(info.dtype); a trainer checkpoint holds F32 only"
        )
      }
      let view = try file.tensor(info.name)
      hash.add(view.bytes)
    }
    guard hash.hex == expected else {
      throw CheckpointError(
        .checksumMismatch,
        "\(path): data checksum \(hash.hex), the file was written with \(expected) (corrupt file)"
      )
    }
    return Contents(file: file, metadata: metadata)
  }
}

/// FNV-1a over the data section's 32-bit words in four interleaved lanes (word i → lane i mod 4,
/// so the multiplications do not wait on each other), the lanes folded at the end. A change to
/// any one word changes the result (each lane step is a bijection of the state).
struct DataChecksum {
  private static let prime: UInt64 = 0x0000_0100_0000_01B3
  private var lanes: [UInt64] = [
    0xCBF2_9CE4_8422_2325, 0x8422_2325_CBF2_9CE4, 0x9E37_79B9_7F4A_7C15, 0xC2B2_AE3D_27D4_EB4F,
  ]
  private var words = 0

  /// Adds the next bytes of the data section (F32 values: a multiple of 4 bytes).
  mutating func add(_ bytes: UnsafeRawBufferPointer) {
    guard let raw = bytes.baseAddress else { return }
    let count = bytes.count / 4
    var (h0, h1, h2, h3) = (lanes[0], lanes[1], lanes[2], lanes[3])
    var i = 0
    // Align the global word index to lane 0 first.
    while i < count && (words + i) % 4 != 0 {
      let w = UInt64(raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
      switch (words + i) % 4 {
      case 1: h1 = (h1 ^ w) &* Self.prime
      case 2: h2 = (h2 ^ w) &* Self.prime
      default: h3 = (h3 ^ w) &* Self.prime
      }
      i += 1
    }
    while i + 4 <= count {
      h0 = (h0 ^ UInt64(raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) &* Self.prime
      h1 =
        (h1 ^ UInt64(raw.loadUnaligned(fromByteOffset: i * 4 + 4, as: UInt32.self))) &* Self.prime
      h2 =
        (h2 ^ UInt64(raw.loadUnaligned(fromByteOffset: i * 4 + 8, as: UInt32.self))) &* Self.prime
      h3 =
        (h3 ^ UInt64(raw.loadUnaligned(fromByteOffset: i * 4 + 12, as: UInt32.self))) &* Self.prime
      i += 4
    }
    while i < count {
      let w = UInt64(raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
      switch (words + i) % 4 {
      case 0: h0 = (h0 ^ w) &* Self.prime
      case 1: h1 = (h1 ^ w) &* Self.prime
      case 2: h2 = (h2 ^ w) &* Self.prime
      default: h3 = (h3 ^ w) &* Self.prime
      }
      i += 1
    }
    lanes = [h0, h1, h2, h3]
    words += count
  }

  /// The folded lanes and the word count, as 16 hex digits.
  var hex: String {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for value in lanes + [UInt64(words)] { h = (h ^ value) &* Self.prime }
    let digits = String(h, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
  }
}
