// The transformers-made fixtures in Tests/Fixtures (tools/reference/make_fixtures.py), found from
// this file's path. Tests that need them are skipped, with a message, when they are absent.
import Checkpoints
import Foundation

enum Fixtures {
  static let root: String = {
    var url = URL(fileURLWithPath: #filePath)
    while url.lastPathComponent != "Tests" && url.pathComponents.count > 1 {
      url.deleteLastPathComponent()
    }
    return url.appendingPathComponent("Fixtures").path
  }()

  static let skipMessage =
    "Tests/Fixtures/ is absent: run tools/reference/make_fixtures.py to create it"

  static func path(_ relative: String) -> String { root + "/" + relative }

  static func exists(_ relative: String) -> Bool {
    FileManager.default.fileExists(atPath: path(relative))
  }

  static var modelsPresent: Bool {
    ["tiny-llava-policy/config.json", "tiny-llava-reward/config.json", "layouts/layouts.json"]
      .allSatisfy(exists)
  }

  /// The peft-lora-tiny inputs of this test target (made from tiny-llava-policy).
  static func input(_ relative: String) -> String? {
    Bundle.module.url(forResource: "Inputs/" + relative, withExtension: nil)?.path
  }

  /// Every .safetensors file under the fixtures.
  static func allSafeTensorsFiles() -> [String] {
    guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
    return walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".safetensors") }.sorted().map(
      path
    )
  }

  /// float → bfloat16 → float, rounding to nearest even as torch's `.to(torch.bfloat16)` does.
  static func roundedToBFloat16(_ value: Float) -> Float {
    let bits = value.bitPattern
    let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
    return Float(bitPattern: rounded & 0xFFFF_0000)
  }
}
