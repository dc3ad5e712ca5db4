import Foundation
import Imaging

/// `Tests/Fixtures/images/` (tools/reference/make_fixtures.py) and this target's `Inputs/`.
enum Fixtures {
  static let testsDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()
    .deletingLastPathComponent()
  static let images = testsDirectory.appendingPathComponent("Fixtures/images")
  static let variants = testsDirectory.appendingPathComponent("ImagingTests/Inputs/variants")

  static func bytes(_ url: URL) -> [UInt8] {
    do {
      return try [UInt8](Data(contentsOf: url))
    } catch { fatalError("cannot read \(url.path): \(error)") }
  }

  static func image(_ name: String) -> [UInt8] { bytes(images.appendingPathComponent(name)) }
  static func variant(_ name: String) -> [UInt8] { bytes(variants.appendingPathComponent(name)) }

  static func floats(_ name: String) -> [Float] {
    image(name).withUnsafeBytes { raw in
      (0..<raw.count / 4).map {
        Float(
          bitPattern: UInt32(
            littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)
          )
        )
      }
    }
  }

  static func decodeJSON<T: Decodable>(_ type: T.Type, _ url: URL) -> T {
    do {
      return try JSONDecoder().decode(type, from: Data(contentsOf: url))
    } catch { fatalError("cannot decode \(url.path): \(error)") }
  }

  static let reference = decodeJSON(Reference.self, images.appendingPathComponent("reference.json"))
  static let configuration = decodeJSON(
    CLIPPreprocessor.Configuration.self,
    images.appendingPathComponent("preprocessor_config.json")
  )

  struct Reference: Decodable {
    struct File: Decodable {
      let file: String
    }
    struct Output: Decodable {
      let variant: String
      let resized_hw: [Int]
      let crop_top_left: [Int]
      let resized_u8: File
      let pixel_values: File
      let pad_rgb_u8: File?
    }
    struct Image: Decodable {
      let file: String
      let mode: String
      let width: Int
      let height: Int
      let rgb_u8: File
      let decoded_u8: File?
      let outputs: [Output]
    }
    let images: [Image]
  }
}

/// HWC → CHW, to compare with the reference's `resized.u8` files.
func channelMajor(_ image: RGBImage) -> [UInt8] {
  let plane = image.width * image.height
  return (0..<3 * plane).map { image.pixels[($0 % plane) * 3 + $0 / plane] }
}
