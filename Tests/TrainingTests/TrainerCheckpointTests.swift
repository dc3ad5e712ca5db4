// Trainer checkpoints (issue 13 §6): parameter sets and metadata round-trip bit for bit, AdamW
// continued after a restore equals an uninterrupted run, and a damaged file or a set of another
// shape is an error value.
import Checkpoints
import Engine
import Foundation
import Glibc
import Testing
import Training

@Suite struct TrainerCheckpointTests {
  struct Metadata: Codable, Equatable {
    var ppoStep: Int
    var rngState: [UInt64]
    var heldOut: [String]
    var rewardMean: Double
  }

  static let metadata = Metadata(
    ppoStep: 41,
    rngState: [0, 1, UInt64.max, 0x9E37_79B9_7F4A_7C15],
    heldOut: ["pair-3", "pair-\u{e9}\"7"],
    rewardMean: 0.1 + 0.2
  )

  static let policyShapes: [(name: String, shape: [Int])] = [
    ("layers.0.q.lora_A.weight", [4, 6]), ("layers.0.q.lora_B.weight", [6, 4]),
  ]
  static let valueShapes: [(name: String, shape: [Int])] = [
    ("layers.0.v.lora_A.weight", [2, 6]), ("score.weight", [1, 6]), ("score.bias", [1]),
  ]

  /// A fresh directory under /tmp, removed by the caller.
  static func directory() -> String {
    let path = "/tmp/rlhfd-trainer-checkpoint-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    mkdir(path, 0o755)
    return path
  }

  static func remove(_ directory: String) {
    if let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) {
      for entry in entries { unlink(directory + "/" + entry) }
    }
    rmdir(directory)
  }

  /// Seeded values, with the awkward ones (−0, a subnormal, ±inf, a NaN payload) in front.
  static func fill(_ buffer: UnsafeMutableBufferPointer<Float>, seed: UInt64) {
    var g = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    let special: [Float] = [
      -0.0, .leastNonzeroMagnitude, .infinity, -.infinity, Float(nan: 5, signaling: false),
    ]
    for i in buffer.indices {
      g ^= g << 13
      g ^= g >> 7
      g ^= g << 17
      buffer[i] =
        i < special.count
        ? special[i] : Float(bitPattern: UInt32(truncatingIfNeeded: g) & 0xBFFF_FFFF)
    }
  }

  static func bits(_ tensor: borrowing Tensor) -> [UInt32] {
    Array(tensor.buffer).map(\.bitPattern)
  }

  /// The gradient of optimizer step `step`: a fixed function of the index and the step.
  static func setGradients(_ set: borrowing TrainableParameters, step: Int) {
    for i in 0..<set.count { set.gradients.data[i] = Float(sin(Double(i * 7 + step * 3))) * 0.1 }
  }

  @Test func roundTripIsBitExact() throws {
    let directory = Self.directory()
    defer { Self.remove(directory) }
    var policy = TrainableParameters(Self.policyShapes)
    let value = TrainableParameters(Self.valueShapes)
    Self.fill(policy.parameters.buffer, seed: 1)
    Self.fill(policy.m.buffer, seed: 2)
    Self.fill(policy.v.buffer, seed: 3)
    Self.fill(value.parameters.buffer, seed: 4)
    Self.fill(value.m.buffer, seed: 5)
    Self.fill(value.v.buffer, seed: 6)
    policy.restore(step: 17)
    var sets = TrainerCheckpointSets()
    sets.add("policy", policy)
    sets.add("value", value)
    let path = directory + "/trainer.safetensors"
    try TrainerCheckpoint.write(sets, metadata: Self.metadata, to: path)
    let restored = try TrainerCheckpoint.read(path, metadata: Metadata.self)
    #expect(restored.metadata == Self.metadata)
    #expect(restored.setNames == ["policy", "value"])
    #expect(restored.step(of: "policy") == 17 && restored.step(of: "value") == 0)
    var policyBack = TrainableParameters(Self.policyShapes)
    var valueBack = TrainableParameters(Self.valueShapes)
    Self.fill(valueBack.m.buffer, seed: 99)
    try restored.restore("policy", into: &policyBack)
    try restored.restore("value", into: &valueBack)
    #expect(Self.bits(policyBack.parameters) == Self.bits(policy.parameters))
    #expect(Self.bits(policyBack.m) == Self.bits(policy.m))
    #expect(Self.bits(policyBack.v) == Self.bits(policy.v))
    #expect(Self.bits(valueBack.parameters) == Self.bits(value.parameters))
    #expect(Self.bits(valueBack.m) == Self.bits(value.m))
    #expect(Self.bits(valueBack.v) == Self.bits(value.v))
    #expect(policyBack.step == 17 && valueBack.step == 0)
    // Writing again replaces the file atomically; no temporary file is left beside it.
    policy.restore(step: 18)
    var again = TrainerCheckpointSets()
    again.add("policy", policy)
    try TrainerCheckpoint.write(again, metadata: Self.metadata, to: path)
    let second = try TrainerCheckpoint.read(path, metadata: Metadata.self)
    #expect(second.setNames == ["policy"] && second.step(of: "policy") == 18)
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: directory) == ["trainer.safetensors"]
    )
  }

  /// Two AdamW steps in one go equal one step, a checkpoint, a restore into fresh buffers and
  /// the second step, bit for bit (the moments and the bias corrections' step count carry over).
  @Test func adamWContinuesAfterARestore() throws {
    let directory = Self.directory()
    defer { Self.remove(directory) }
    let adamW = AdamW(weightDecay: 0.01)
    var straight = TrainableParameters(Self.policyShapes)
    for i in 0..<straight.count { straight.parameters.data[i] = Float(i % 5) * 0.25 - 0.5 }
    var resumed = TrainableParameters(Self.policyShapes)
    resumed.parameters.data.update(from: straight.parameters.data, count: straight.count)
    for step in 1...2 {
      Self.setGradients(straight, step: step)
      straight.update(adamW, learningRate: 1e-2)
    }
    Self.setGradients(resumed, step: 1)
    resumed.update(adamW, learningRate: 1e-2)
    var sets = TrainerCheckpointSets()
    sets.add("policy", resumed)
    let path = directory + "/trainer.safetensors"
    try TrainerCheckpoint.write(sets, metadata: Self.metadata, to: path)
    var fresh = TrainableParameters(Self.policyShapes)
    try TrainerCheckpoint.read(path, metadata: Metadata.self).restore("policy", into: &fresh)
    Self.setGradients(fresh, step: 2)
    fresh.update(adamW, learningRate: 1e-2)
    #expect(fresh.step == 2)
    #expect(Self.bits(fresh.parameters) == Self.bits(straight.parameters))
    #expect(Self.bits(fresh.m) == Self.bits(straight.m))
    #expect(Self.bits(fresh.v) == Self.bits(straight.v))
    #expect(Self.bits(fresh.parameters) != Self.bits(resumed.parameters))
  }

  static func code(_ body: () throws(CheckpointError) -> Void) -> CheckpointError.Code? {
    do {
      try body()
      return nil
    } catch {
      return error.code
    }
  }

  /// A truncated file, a flipped data byte, a broken header, an empty file and a safetensors
  /// file that is not a trainer checkpoint are error values.
  @Test func damagedFilesAreErrors() throws {
    let directory = Self.directory()
    defer { Self.remove(directory) }
    let policy = TrainableParameters(Self.policyShapes)
    Self.fill(policy.parameters.buffer, seed: 8)
    var sets = TrainerCheckpointSets()
    sets.add("policy", policy)
    let path = directory + "/trainer.safetensors"
    try TrainerCheckpoint.write(sets, metadata: Self.metadata, to: path)
    let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    func read(_ bytes: [UInt8]) -> CheckpointError.Code? {
      let damaged = directory + "/damaged.safetensors"
      unlink(damaged)
      _ = FileManager.default.createFile(atPath: damaged, contents: Data(bytes))
      return Self.code { () throws(CheckpointError) in
        _ = try TrainerCheckpoint.read(damaged, metadata: Metadata.self)
      }
    }
    #expect(read(good) == nil)
    let headerEnd = 8 + Int(good[0]) + Int(good[1]) << 8 + Int(good[2]) << 16
    for cut in [0, 5, 8, headerEnd - 3, headerEnd + 1, good.count - 4, good.count - 1] {
      #expect(read(Array(good[..<cut])) != nil, "cut at \(cut) of \(good.count)")
    }
    for offset in [headerEnd, headerEnd + 17, good.count - 1] {
      var flipped = good
      flipped[offset] ^= 0x10
      #expect(read(flipped) == .checksumMismatch, "flipped byte \(offset)")
    }
    var header = good
    header[9] = UInt8(ascii: "[")
    #expect(read(header) != nil)
    #expect(read(good + [0, 0, 0, 0]) == .hole)
    let adapter = try LoRAAdapterWriter.safetensors(
      [LoRAWeightPair(module: "m", a: [1, 2], b: [3, 4], rank: 1, inFeatures: 2, outFeatures: 2)],
      rank: 1
    )
    #expect(read(adapter) == .invalidMetadata)
    #expect(
      Self.code { () throws(CheckpointError) in
        _ = try TrainerCheckpoint.read(directory + "/absent", metadata: Metadata.self)
      } == .io
    )
    // Metadata of another shape than the caller's type.
    struct Other: Codable { var other: String }
    #expect(
      Self.code { () throws(CheckpointError) in
        _ = try TrainerCheckpoint.read(path, metadata: Other.self)
      } == .invalidMetadata
    )
    // A directory that does not exist: the write fails, nothing is left.
    #expect(
      Self.code { () throws(CheckpointError) in
        try TrainerCheckpoint.write(sets, metadata: Self.metadata, to: directory + "/no/x")
      } == .io
    )
  }

  /// A set of another shape, with a missing or an extra segment, or a missing set is an error,
  /// and the set being restored into is left as it was.
  @Test func aMismatchedSetIsAnError() throws {
    let directory = Self.directory()
    defer { Self.remove(directory) }
    let policy = TrainableParameters(Self.policyShapes)
    Self.fill(policy.parameters.buffer, seed: 9)
    var sets = TrainerCheckpointSets()
    sets.add("policy", policy)
    let path = directory + "/trainer.safetensors"
    try TrainerCheckpoint.write(sets, metadata: Self.metadata, to: path)
    let restored = try TrainerCheckpoint.read(path, metadata: Metadata.self)
    func restore(_ set: String, _ shapes: [(name: String, shape: [Int])]) -> CheckpointError.Code? {
      var target = TrainableParameters(shapes)
      Self.fill(target.parameters.buffer, seed: 10)
      let before = Self.bits(target.parameters)
      let code = Self.code { () throws(CheckpointError) in try restored.restore(set, into: &target)
      }
      if code != nil { #expect(Self.bits(target.parameters) == before && target.step == 0) }
      return code
    }
    #expect(
      restore(
        "policy",
        [("layers.0.q.lora_A.weight", [4, 6]), ("layers.0.q.lora_B.weight", [4, 6])]
      ) == .shapeMismatch
    )
    #expect(
      restore(
        "policy",
        [("layers.0.q.lora_A.weight", [4, 6]), ("layers.0.q.lora_B.weight", [6, 8])]
      ) == .shapeMismatch
    )
    #expect(restore("policy", [("layers.0.q.lora_A.weight", [4, 6])]) == .unexpectedTensors)
    #expect(restore("policy", Self.policyShapes + [("score.weight", [1, 6])]) == .missingTensors)
    #expect(restore("value", Self.policyShapes) == .missingTensors)
    #expect(restore("policy", Self.policyShapes) == nil)
    // Set names are checked when writing.
    var bad = TrainerCheckpointSets()
    bad.add("a/b", policy)
    #expect(
      Self.code { () throws(CheckpointError) in
        try TrainerCheckpoint.write(bad, metadata: Self.metadata, to: path)
      } == .invalidHeader
    )
  }
}
