// The weights of a checkpoint directory as one name → tensor lookup, whether they sit in one
// `model.safetensors` or in shards listed by `model.safetensors.index.json` (`weight_map`:
// tensor name → shard file). A sharded checkpoint is accepted only when index and shards agree:
// every shard the index names exists and is valid, each tensor sits in exactly the shard the
// index says, and no shard holds a tensor the index does not list.

/// The safetensors files of one checkpoint, validated together.
public final class SafeTensorsCheckpoint: Sendable {
  public static let singleFileName = "model.safetensors"
  public static let indexFileName = "model.safetensors.index.json"

  /// The files, in the order the index names them (one for an unsharded checkpoint).
  public let files: [SafeTensorsFile]
  private let location: [String: Int]

  /// One unsharded file.
  public init(file: SafeTensorsFile) {
    files = [file]
    location = Dictionary(uniqueKeysWithValues: file.header.tensors.keys.map { ($0, 0) })
  }

  /// Opens `directory`: the index and its shards when the index exists, else `model.safetensors`.
  public convenience init(directory: String) throws(CheckpointError) {
    let index = FileIO.join(directory, Self.indexFileName)
    if FileIO.exists(index) {
      try self.init(index: index)
    } else {
      let single = FileIO.join(directory, Self.singleFileName)
      guard FileIO.exists(single) else {
        throw CheckpointError(
          .io,
          "\(directory) has neither \(Self.indexFileName) nor \(Self.singleFileName)"
        )
      }
      self.init(file: try SafeTensorsFile(path: single))
    }
  }

  /// Opens a sharded checkpoint through its index file; shards are looked up beside it.
  public init(index path: String) throws(CheckpointError) {
    let weightMap = try Self.readWeightMap(path)
    let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
      .joined(separator: "/")
    let shardNames = Array(Set(weightMap.values)).sorted()
    var files: [SafeTensorsFile] = []
    var shardIndex: [String: Int] = [:]
    for name in shardNames {
      shardIndex[name] = files.count
      files.append(
        try SafeTensorsFile(path: directory.isEmpty ? name : FileIO.join(directory, name))
      )
    }
    var location: [String: Int] = [:]
    for (tensor, shard) in weightMap.sorted(by: { $0.key < $1.key }) {
      let file = shardIndex[shard]!
      guard files[file].contains(tensor) else {
        throw CheckpointError(
          .shardMismatch,
          "\(path) maps tensor '\(tensor)' to \(shard), which does not contain it"
        )
      }
      location[tensor] = file
    }
    for (file, shard) in files.enumerated() {
      for tensor in shard.tensorNames where location[tensor] != file {
        if let mapped = location[tensor] {
          throw CheckpointError(
            .shardMismatch,
            "tensor '\(tensor)' is in both \(files[mapped].path) and \(shard.path); \(path) maps it to \(shardNames[mapped])"
          )
        }
        throw CheckpointError(
          .shardMismatch,
          "\(shard.path) holds tensor '\(tensor)', which \(path) does not list"
        )
      }
    }
    self.files = files
    self.location = location
  }

  /// All tensor names, sorted.
  public var tensorNames: [String] { location.keys.sorted() }

  public func contains(_ name: String) -> Bool { location[name] != nil }

  public func info(_ name: String) -> TensorInfo? {
    location[name].flatMap { files[$0].info(name) }
  }

  /// The tensor from whichever shard holds it.
  public func tensor(_ name: String) throws(CheckpointError) -> TensorView {
    guard let file = location[name] else {
      let where_ = files.count == 1 ? files[0].path : "the \(files.count) shards"
      throw CheckpointError(.tensorNotFound, "no tensor '\(name)' in \(where_)")
    }
    return try files[file].tensor(name)
  }

  /// Reads `weight_map` with the strict parser (a repeated tensor name is an error, not a choice).
  private static func readWeightMap(_ path: String) throws(CheckpointError) -> [String: String] {
    let bytes = try FileIO.read(path)
    let json: JSONValue
    do {
      json = try StrictJSONParser.parse(bytes)
    } catch {
      throw CheckpointError(error.code, "\(path): JSON at byte \(error.offset): \(error.reason)")
    }
    guard case .object(let top) = json, case .object(let map) = top["weight_map"] ?? .null else {
      throw CheckpointError(
        .invalidHeader,
        "\(path): expected an object with a 'weight_map' object"
      )
    }
    var weightMap: [String: String] = [:]
    for (tensor, value) in map {
      guard case .string(let shard) = value else {
        throw CheckpointError(
          .invalidHeader,
          "\(path): weight_map['\(tensor)'] is \(value.typeName), expected a file name"
        )
      }
      guard !shard.isEmpty, shard != ".", shard != "..", !shard.contains("/"), !shard.contains("\0")
      else {
        throw CheckpointError(
          .invalidHeader,
          "\(path): weight_map['\(tensor)'] = '\(shard)' is not a plain file name"
        )
      }
      weightMap[tensor] = shard
    }
    if weightMap.isEmpty { throw CheckpointError(.invalidHeader, "\(path): weight_map is empty") }
    return weightMap
  }
}
