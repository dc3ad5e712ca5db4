// A trainer checkpoint (issue 13 §6): any number of named `TrainableParameters` sets (the
// policy's LoRA, the value model's LoRA and head, the reward model's…) with their parameters,
// AdamW moments m and v and AdamW step count, and the trainer's own metadata (a Codable value:
// PPO step, RNG state, held-out ids, consumed feedback marks, versions), in one
// `TrainerCheckpointFile` written atomically. Gradients are not saved: they are zeroed at every
// optimizer step.
//
//   tensors   "<set>/<segment>/parameters", "<set>/<segment>/m", "<set>/<segment>/v" (F32)
//   metadata  {"sets": {"<set>": {"step": n, "count": values}}, "trainer": <the caller's value>}
//
// A restore checks the set against the file first (every segment present with its shape, nothing
// extra, the value count) and copies only when all of it matches: a mismatch is an error and the
// parameters are untouched.
public import Checkpoints
public import Engine
import Foundation

/// Parameter sets to checkpoint, borrowed: `add` records where their buffers are, `write` reads
/// them, so every added set must stay alive (not freed) until `TrainerCheckpoint.write` returns.
public struct TrainerCheckpointSets {
  struct Entry {
    let name: String
    let segments: [TrainableParameters.Segment]
    let step: Int
    let parameters: UnsafeBufferPointer<Float>
    let m: UnsafeBufferPointer<Float>
    let v: UnsafeBufferPointer<Float>
  }

  var entries: [Entry] = []

  public init() {}

  /// Adds `parameters` under `name` (not empty, no '/'; one set per name).
  public mutating func add(_ name: String, _ parameters: borrowing TrainableParameters) {
    entries.append(
      Entry(
        name: name,
        segments: parameters.segments,
        step: parameters.step,
        parameters: UnsafeBufferPointer(parameters.parameters.buffer),
        m: UnsafeBufferPointer(parameters.m.buffer),
        v: UnsafeBufferPointer(parameters.v.buffer)
      )
    )
  }
}

public enum TrainerCheckpoint {
  /// Writes `sets` and `metadata` to `path` atomically (replacing the previous checkpoint there;
  /// after a crash the file is the old checkpoint or the new one, whole).
  public static func write<Metadata: Encodable>(
    _ sets: TrainerCheckpointSets,
    metadata: Metadata,
    to path: String
  ) throws(CheckpointError) {
    var records: [String: SetRecord] = [:]
    var tensors: [TrainerCheckpointFile.Tensor] = []
    for entry in sets.entries {
      guard !entry.name.isEmpty, !entry.name.contains("/"), records[entry.name] == nil else {
        throw CheckpointError(
          .invalidHeader,
          "parameter set name '\(entry.name)' is empty, has a '/' or is repeated"
        )
      }
      records[entry.name] = SetRecord(step: entry.step, count: entry.parameters.count)
      for segment in entry.segments {
        for (part, buffer) in [("parameters", entry.parameters), ("m", entry.m), ("v", entry.v)] {
          tensors.append(
            TrainerCheckpointFile.Tensor(
              name: tensorName(entry.name, segment.name, part),
              shape: segment.shape,
              values: UnsafeBufferPointer(
                rebasing: buffer[segment.offset..<segment.offset + segment.count]
              )
            )
          )
        }
      }
    }
    let text: String
    do {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys]
      let data = try encoder.encode(Envelope(sets: records, trainer: metadata))
      text = String(decoding: data, as: UTF8.self)
    } catch {
      throw CheckpointError(.invalidMetadata, "\(path): cannot encode the metadata: \(error)")
    }
    try TrainerCheckpointFile.write(tensors, metadata: text, to: path)
  }

  /// Reads and validates the checkpoint at `path` and decodes its metadata as `Metadata`.
  public static func read<Metadata: Decodable>(
    _ path: String,
    metadata: Metadata.Type
  ) throws(CheckpointError) -> RestoredTrainerCheckpoint<Metadata> {
    let contents = try TrainerCheckpointFile.read(path)
    let envelope: Envelope<Metadata>
    do {
      envelope = try JSONDecoder().decode(
        Envelope<Metadata>.self,
        from: Data(contents.metadata.utf8)
      )
    } catch {
      throw CheckpointError(.invalidMetadata, "\(path): cannot decode the metadata: \(error)")
    }
    return RestoredTrainerCheckpoint(
      metadata: envelope.trainer,
      contents: contents,
      records: envelope.sets
    )
  }

  static func tensorName(_ set: String, _ segment: String, _ part: String) -> String {
    "\(set)/\(segment)/\(part)"
  }
}

/// A validated checkpoint: the trainer's metadata and the parameter sets to restore. The file
/// stays mapped while this value lives; drop it once the sets are restored.
public struct RestoredTrainerCheckpoint<Metadata> {
  public let metadata: Metadata
  public let contents: TrainerCheckpointFile.Contents
  let records: [String: SetRecord]

  /// The names of the sets in the file, sorted.
  public var setNames: [String] { records.keys.sorted() }

  /// The AdamW step count saved with `set` (nil: no such set).
  public func step(of set: String) -> Int? { records[set]?.step }

  /// Throws unless `set` is in the file with exactly the segments (names and shapes) of
  /// `parameters`.
  public func check(_ set: String, against parameters: borrowing TrainableParameters)
    throws(CheckpointError)
  {
    let path = contents.file.path
    guard let record = records[set] else {
      throw CheckpointError(
        .missingTensors,
        "\(path): no parameter set '\(set)' (the file has \(setNames))"
      )
    }
    var expected = Set<String>()
    for segment in parameters.segments {
      for part in ["parameters", "m", "v"] {
        let name = TrainerCheckpoint.tensorName(set, segment.name, part)
        expected.insert(name)
        guard let info = contents.info(name) else {
          throw CheckpointError(.missingTensors, "\(path): set '\(set)' lacks tensor '\(name)'")
        }
        guard info.shape == segment.shape else {
          throw CheckpointError(
            .shapeMismatch,
            "\(path): '\(name)' has shape \(info.shape), the set being restored has \(segment.shape)"
          )
        }
      }
    }
    let extra = contents.tensorNames.filter { $0.hasPrefix(set + "/") && !expected.contains($0) }
    guard extra.isEmpty else {
      throw CheckpointError(
        .unexpectedTensors,
        "\(path): set '\(set)' has tensors the set being restored lacks: \(extra.prefix(5))"
      )
    }
    guard record.count == parameters.count else {
      throw CheckpointError(
        .sizeMismatch,
        "\(path): set '\(set)' holds \(record.count) values, the set being restored \(parameters.count)"
      )
    }
  }

  /// Checks (`check`), then copies the parameters, m, v and the step count of `set` into
  /// `parameters` and zeroes its gradients. On an error `parameters` is unchanged.
  public func restore(_ set: String, into parameters: inout TrainableParameters)
    throws(CheckpointError)
  {
    try check(set, against: parameters)
    for segment in parameters.segments {
      let range = segment.offset..<segment.offset + segment.count
      for (part, tensor) in [
        ("parameters", parameters.parameters.buffer), ("m", parameters.m.buffer),
        ("v", parameters.v.buffer),
      ] {
        let view = try contents.tensor(TrainerCheckpoint.tensorName(set, segment.name, part))
        try view.copyFloats(into: UnsafeMutableBufferPointer(rebasing: tensor[range]))
      }
    }
    parameters.zeroGradients()
    parameters.restore(step: records[set]!.step)
  }
}

extension RestoredTrainerCheckpoint: Sendable where Metadata: Sendable {}

/// One set's figures in the metadata.
struct SetRecord: Codable, Equatable {
  var step: Int
  var count: Int
}

/// The file's metadata JSON: the sets' figures and the trainer's value.
struct Envelope<Trainer> {
  var sets: [String: SetRecord]
  var trainer: Trainer
}

extension Envelope: Encodable where Trainer: Encodable {}
extension Envelope: Decodable where Trainer: Decodable {}
