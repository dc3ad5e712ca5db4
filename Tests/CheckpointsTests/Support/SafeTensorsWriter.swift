// Builds safetensors files in memory: well-formed ones from tensors, and malformed ones from a
// raw header string, so every validation rule can be exercised without Python.
import Checkpoints
import Foundation

struct TestTensor {
  var name: String
  var dtype: String
  var shape: [Int]
  var bytes: [UInt8]

  init(_ name: String, _ dtype: String, _ shape: [Int], _ bytes: [UInt8]) {
    self.name = name
    self.dtype = dtype
    self.shape = shape
    self.bytes = bytes
  }

  static func f32(_ name: String, _ shape: [Int], _ values: [Float]) -> TestTensor {
    TestTensor(name, "F32", shape, SafeTensorsWriter.bytes(values.map(\.bitPattern)))
  }

  /// Values 0.01 · (seed + i), a deterministic pattern that differs per tensor.
  static func f32(_ name: String, _ shape: [Int], seed: Int) -> TestTensor {
    let count = shape.reduce(1, *)
    return f32(name, shape, (0..<count).map { Float(seed + $0) * 0.01 })
  }
}

enum SafeTensorsWriter {
  /// A valid file: tensors laid out back to back in the given order, the header padded with
  /// spaces so the data starts at a multiple of 8 (or, with `pad` false, at an odd offset).
  static func file(_ tensors: [TestTensor], metadata: [String: String]? = nil, pad: Bool = true)
    -> [UInt8]
  {
    var entries: [String] = []
    if let metadata {
      let fields = metadata.sorted { $0.key < $1.key }.map { "\(quote($0.key)):\(quote($0.value))" }
      entries.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
    }
    var offset = 0
    var data: [UInt8] = []
    for tensor in tensors {
      let end = offset + tensor.bytes.count
      let shape = tensor.shape.map(String.init).joined(separator: ",")
      entries.append(
        "\(quote(tensor.name)):{\"dtype\":\"\(tensor.dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}"
      )
      data += tensor.bytes
      offset = end
    }
    var header = "{" + entries.joined(separator: ",") + "}"
    // Padded: data starts at a multiple of 8. Unpadded: at an odd offset, to test unaligned reads.
    while (8 + header.utf8.count) % 8 != (pad ? 0 : 1) { header += " " }
    return raw(header: header, data: data)
  }

  /// A file with this exact header text and data section; `length` overrides the length field.
  static func raw(header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
    raw(headerBytes: Array(header.utf8), data: data, length: length)
  }

  static func raw(headerBytes: [UInt8], data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
    let n = length ?? UInt64(headerBytes.count)
    return withUnsafeBytes(of: n.littleEndian, Array.init) + headerBytes + data
  }

  static func bytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
  }

  static func quote(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }
}

/// A temporary directory removed when the test ends.
final class TemporaryDirectory {
  let path: String

  init() throws {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("ckpt-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    path = url.path
  }

  deinit { try? FileManager.default.removeItem(atPath: path) }

  func file(_ name: String) -> String { path + "/" + name }

  @discardableResult
  func write(_ name: String, _ bytes: [UInt8]) throws -> String {
    try Data(bytes).write(to: URL(fileURLWithPath: file(name)))
    return file(name)
  }

  @discardableResult
  func write(_ name: String, _ text: String) throws -> String {
    try write(name, Array(text.utf8))
  }
}

/// Runs `body`, expecting a CheckpointError; returns it (or nil after recording an issue).
func checkpointError(_ body: () throws -> Void) -> CheckpointError? {
  do {
    try body()
    return nil
  } catch let error as CheckpointError {
    return error
  } catch {
    return CheckpointError(.io, "unexpected error type: \(error)")
  }
}
