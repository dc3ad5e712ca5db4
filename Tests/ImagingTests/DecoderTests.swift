import Foundation
import Testing

@testable import Imaging

/// PNG/JPEG variants (Inputs/variants, expected bytes from Pillow 13) and the two alpha modes.
@Suite struct DecoderTests {
  struct Variant: Decodable {
    let mode: String
    let size: [Int]
  }

  static let variants = Fixtures.decodeJSON(
    [String: Variant].self,
    Fixtures.variants.appendingPathComponent("variants.json")
  )
  static let decodable = variants.keys.filter { $0 != "cmyk.jpg" }.sorted()

  @Test(arguments: decodable)
  func matchesPillow(name: String) throws {
    let bytes = Fixtures.variant(name)
    let expected = Self.variants[name]!
    for (handling, suffix) in [
      (ImageDecoder.AlphaHandling.compositeOnWhite, "composite"), (.drop, "drop"),
    ] {
      let image = try ImageDecoder(alphaHandling: handling).decode(bytes)
      #expect([image.width, image.height] == expected.size)
      let reference = Fixtures.variant("\(name).\(suffix).u8")
      let differing = zip(image.pixels, reference).filter { $0 != $1 }.count
      #expect(differing == 0, "\(name) \(suffix): \(differing) bytes differ")
    }
  }

  @Test func headerWithoutDecoding() throws {
    let header = try ImageDecoder().probe(Fixtures.image("rgba_64x48.png"))
    #expect(header == ImageHeader(format: .png, width: 64, height: 48, channels: 4))
    let jpeg = try ImageDecoder().probe(Fixtures.image("rgb_64x48_q90.jpg"))
    #expect(jpeg == ImageHeader(format: .jpeg, width: 64, height: 48, channels: 3))
  }

  @Test func cmykJPEGIsRejected() {
    let error = #expect(throws: ImagingError.self) {
      try ImageDecoder().decode(Fixtures.variant("cmyk.jpg"))
    }
    #expect(error?.code == .unsupportedFormat)
    #expect(error?.message.contains("CMYK") == true)
  }

  @Test func oneByOneDecodesAndCanBeTooSmall() throws {
    let bytes = Fixtures.image("one_1x1.png")
    let image = try ImageDecoder().decode(bytes)
    #expect(image.width == 1 && image.height == 1)
    let strict = ImageDecoder(limits: ImageLimits(minWidth: 2, minHeight: 2))
    let error = #expect(throws: ImagingError.self) { try strict.decode(bytes) }
    #expect(error?.code == .tooSmall)
    #expect(error?.message == "PNG image is 1x1, under the minimum of 2x2")
  }

  @Test func limits() {
    let bytes = Fixtures.image("rgb_64x48.png")
    let cases: [(ImageLimits, String)] = [
      (ImageLimits(maxBytes: 100), "image is \(bytes.count) bytes, over the limit of 100"),
      (ImageLimits(maxWidth: 63), "PNG image is 64x48, over the limit of 63x8192"),
      (ImageLimits(maxHeight: 47), "PNG image is 64x48, over the limit of 8192x47"),
      (ImageLimits(maxPixels: 3000), "PNG image has 3072 pixels (64x48), over the limit of 3000"),
    ]
    for (limits, message) in cases {
      let error = #expect(throws: ImagingError.self) {
        try ImageDecoder(limits: limits).decode(bytes)
      }
      #expect(error?.code == .tooLarge)
      #expect(error?.message == message)
    }
  }
}
