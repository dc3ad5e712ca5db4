// Errors of the checkpoint loaders: values with a code (for callers that branch) and a message
// that names the file, the tensor, and what was expected against what was found.

/// A checkpoint file that cannot be used, and why.
public struct CheckpointError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What kind of failure; the message carries the specifics.
  public enum Code: String, Sendable, CaseIterable {
    /// The file cannot be opened, read or mapped.
    case io
    /// The file ends before its header does (fewer than 8 bytes, or the header runs past it).
    case truncated
    /// The header length is over the cap.
    case headerTooLarge
    /// The header is not UTF-8, not JSON, or does not start with `{`.
    case invalidJSON
    /// A JSON object repeats a key.
    case duplicateKey
    /// The header is JSON but not a safetensors header (wrong types, missing or extra fields).
    case invalidHeader
    /// A dtype that safetensors does not define.
    case unknownDType
    /// A dtype that safetensors defines but this reader does not convert (e.g. I64, F64, U8).
    case unsupportedDType
    /// A shape that is not a list of non-negative integers.
    case invalidShape
    /// A size computation overflows (shape product, bytes).
    case overflow
    /// A tensor's byte range does not match its shape and dtype.
    case sizeMismatch
    /// Data offsets that are not `[begin, end]` with `begin <= end`, or that leave the data section.
    case invalidOffsets
    /// Two tensors share bytes.
    case overlap
    /// Bytes of the data section that no tensor covers (between tensors or after the last one).
    case hole
    /// `__metadata__` is not a string-to-string map.
    case invalidMetadata
    /// A tensor that was asked for and is not there.
    case tensorNotFound
    /// A sharded checkpoint whose index and shards disagree.
    case shardMismatch
    /// A config file that cannot be decoded or holds impossible values.
    case invalidConfig
    /// A model type, architecture, activation or option this loader does not implement.
    case unsupportedArchitecture
    /// Tensors that the model needs and the checkpoint lacks.
    case missingTensors
    /// Tensors that the checkpoint has and the model does not know.
    case unexpectedTensors
    /// A tensor whose shape differs from what the config implies.
    case shapeMismatch
    /// A PEFT adapter that is malformed or uses features this loader does not implement.
    case invalidAdapter
    /// Tensor bytes that do not match the checksum the file was written with (a corrupt file).
    case checksumMismatch
  }

  public var code: Code
  public var message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { "\(code.rawValue): \(message)" }
}

/// Joins a list of names for a message, cutting it after `limit` entries.
func listForMessage(_ names: some Collection<String>, limit: Int = 20) -> String {
  let shown = names.prefix(limit).joined(separator: ", ")
  return names.count > limit ? "\(shown), … (\(names.count) in all)" : shown
}
