// The transformers-made fixtures in Tests/Fixtures (tools/reference/make_fixtures.py) and
// helpers to read the reference tensors and JSON sidecars.
import Checkpoints
import Engine
import Foundation
import Models

enum Fixtures {
  static let root: String = {
    var url = URL(fileURLWithPath: #filePath)
    while url.lastPathComponent != "Tests" && url.pathComponents.count > 1 {
      url.deleteLastPathComponent()
    }
    return url.appendingPathComponent("Fixtures").path
  }()

  static func path(_ relative: String) -> String { root + "/" + relative }

  static var present: Bool {
    FileManager.default.fileExists(atPath: path("reference/policy.json"))
  }

  /// A tensor of a reference safetensors file, as floats.
  static func floats(_ file: String, _ name: String) throws -> [Float] {
    try SafeTensorsFile(path: path("reference/" + file)).tensor(name).floats()
  }

  /// A JSON sidecar.
  static func json(_ file: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path("reference/" + file)))
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
  }

  static func ints(_ value: Any?) -> [Int32] {
    (value as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.int32Value }
  }

  /// The image case's pixel values (3, 32, 32).
  static func pixels() throws -> [Float] { try floats("policy.safetensors", "image.pixel_values") }

  static let policy: Result<LlavaWeights, ModelError> = Result {
    () throws(ModelError) -> LlavaWeights in
    try LlavaWeights(directory: path("tiny-llava-policy"))
  }

  /// The bf16 layout variant (its own transformers reference) with bf16 products; only where
  /// the CPU has AVX512-BF16 (`BF16Products.isSupported`).
  static let bf16Policy: Result<LlavaWeights, ModelError> = Result {
    () throws(ModelError) -> LlavaWeights in
    try LlavaWeights(directory: path("layouts/v5-bfloat16"), precision: .bf16)
  }
}

/// The largest elementwise absolute difference.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
  precondition(a.count == b.count, "\(a.count) vs \(b.count) elements")
  var worst: Float = 0
  for i in a.indices { worst = max(worst, abs(a[i] - b[i])) }
  return worst
}
