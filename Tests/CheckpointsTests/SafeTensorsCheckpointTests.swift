// Sharded checkpoints: one lookup across shards when index and shards agree, and a precise
// error for each way they can disagree.
import Checkpoints
import Testing

@Suite struct SafeTensorsCheckpointTests {
  /// Writes shard files and an index; `map` overrides the index's weight_map text.
  private func sharded(
    _ shards: [String: [TestTensor]],
    map: String? = nil,
    skipWriting: Set<String> = []
  ) throws -> TemporaryDirectory {
    let directory = try TemporaryDirectory()
    var entries: [String] = []
    for (shard, tensors) in shards.sorted(by: { $0.key < $1.key }) {
      if !skipWriting.contains(shard) {
        try directory.write(shard, SafeTensorsWriter.file(tensors))
      }
      entries += tensors.map {
        "\(SafeTensorsWriter.quote($0.name)): \(SafeTensorsWriter.quote(shard))"
      }
    }
    let weightMap = map ?? "{" + entries.joined(separator: ", ") + "}"
    try directory.write(
      SafeTensorsCheckpoint.indexFileName,
      "{\"metadata\": {\"total_size\": 0}, \"weight_map\": \(weightMap)}"
    )
    return directory
  }

  private let twoShards = [
    "model-00001-of-00002.safetensors": [
      TestTensor.f32("a", [2], [1, 2]), TestTensor.f32("b", [1], [3]),
    ],
    "model-00002-of-00002.safetensors": [TestTensor.f32("c", [3], [4, 5, 6])],
  ]

  @Test func looksUpAcrossShards() throws {
    let directory = try sharded(twoShards)
    let checkpoint = try SafeTensorsCheckpoint(directory: directory.path)
    #expect(checkpoint.files.count == 2)
    #expect(checkpoint.tensorNames == ["a", "b", "c"])
    #expect(try checkpoint.tensor("a").floats() == [1, 2])
    #expect(try checkpoint.tensor("c").floats() == [4, 5, 6])
    #expect(checkpoint.info("c")?.shape == [3])
    #expect(try checkpoint.tensor("c").file.hasSuffix("model-00002-of-00002.safetensors"))
    let error = checkpointError { _ = try checkpoint.tensor("d") }
    #expect(error == CheckpointError(.tensorNotFound, "no tensor 'd' in the 2 shards"))
  }

  @Test func singleFileDirectory() throws {
    let directory = try TemporaryDirectory()
    try directory.write(
      "model.safetensors",
      SafeTensorsWriter.file([TestTensor.f32("w", [1], [9])])
    )
    let checkpoint = try SafeTensorsCheckpoint(directory: directory.path)
    #expect(try checkpoint.tensor("w").floats() == [9])
    let empty = try TemporaryDirectory()
    #expect(checkpointError { _ = try SafeTensorsCheckpoint(directory: empty.path) }?.code == .io)
  }

  @Test func indexNamingAShardWithoutTheTensor() throws {
    let map = #"{"a": "s1.safetensors", "b": "s1.safetensors", "c": "s1.safetensors"}"#
    let directory = try sharded(
      ["s1.safetensors": [TestTensor.f32("a", [1], [1]), TestTensor.f32("b", [1], [1])]],
      map: map
    )
    let error = checkpointError { _ = try SafeTensorsCheckpoint(directory: directory.path) }
    #expect(error?.code == .shardMismatch)
    #expect(
      error?.message.contains("maps tensor 'c' to s1.safetensors, which does not contain it")
        == true
    )
  }

  @Test func tensorInTwoShards() throws {
    let directory = try sharded(
      [
        "s1.safetensors": [TestTensor.f32("a", [1], [1])],
        "s2.safetensors": [TestTensor.f32("b", [1], [1])],
      ],
      map: #"{"a": "s1.safetensors", "b": "s2.safetensors"}"#
    )
    try directory.write(
      "s2.safetensors",
      SafeTensorsWriter.file([TestTensor.f32("a", [1], [2]), TestTensor.f32("b", [1], [1])])
    )
    let error = checkpointError { _ = try SafeTensorsCheckpoint(directory: directory.path) }
    #expect(error?.code == .shardMismatch)
    #expect(error?.message.contains("tensor 'a' is in both") == true, "\(error?.message ?? "")")
  }

  @Test func shardTensorMissingFromTheIndex() throws {
    let directory = try sharded(
      twoShards,
      map: #"{"a": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}"#
    )
    let error = checkpointError { _ = try SafeTensorsCheckpoint(directory: directory.path) }
    #expect(error?.code == .shardMismatch)
    #expect(error?.message.contains("holds tensor 'b', which") == true)
  }

  @Test func missingShardFile() throws {
    let directory = try sharded(twoShards, skipWriting: ["model-00002-of-00002.safetensors"])
    let error = checkpointError { _ = try SafeTensorsCheckpoint(directory: directory.path) }
    #expect(error?.code == .io)
    #expect(error?.message.contains("model-00002-of-00002.safetensors") == true)
  }

  @Test func invalidShardIsRejected() throws {
    let directory = try sharded(twoShards)
    try directory.write(
      "model-00002-of-00002.safetensors",
      SafeTensorsWriter.raw(header: "{\"c\":1}")
    )
    #expect(
      checkpointError { _ = try SafeTensorsCheckpoint(directory: directory.path) }?.code
        == .invalidHeader
    )
  }

  @Test(arguments: [
    (#"{"a": "s.safetensors", "a": "t.safetensors"}"#, CheckpointError.Code.duplicateKey),
    (#"{"a": "../s.safetensors"}"#, .invalidHeader),
    (#"{"a": ".."}"#, .invalidHeader),
    (#"{"a": 3}"#, .invalidHeader),
    (#"{}"#, .invalidHeader),
    (#"[]"#, .invalidHeader),
    (#"{"a": "s.safetensors""#, .invalidJSON),
  ])
  func malformedIndex(weightMap: String, code: CheckpointError.Code) throws {
    let directory = try sharded(["s.safetensors": [TestTensor.f32("a", [1], [1])]], map: weightMap)
    let error = checkpointError { _ = try SafeTensorsCheckpoint(directory: directory.path) }
    #expect(error?.code == code, "\(error?.description ?? "accepted")")
    #expect(error?.message.contains(SafeTensorsCheckpoint.indexFileName) == true)
  }
}
