import Foundation
import Testing

@testable import Imaging

/// `PILResampler` against Pillow 13 on random images (Inputs/resample): up- and downscaling,
/// one-axis resizes, both pass orders, bicubic and bilinear.
@Suite struct ResamplerTests {
  struct Case: Decodable {
    let w: Int
    let h: Int
    let ow: Int
    let oh: Int
    let filter: String
    let input_offset: Int
    let output_offset: Int
  }
  struct Cases: Decodable {
    let pillow: String
    let cases: [Case]
  }

  static let directory = Fixtures.testsDirectory.appendingPathComponent(
    "ImagingTests/Inputs/resample"
  )
  static let cases = Fixtures.decodeJSON(Cases.self, directory.appendingPathComponent("cases.json"))
  static let blob = Fixtures.bytes(directory.appendingPathComponent("cases.bin"))

  @Test(arguments: cases.cases.indices)
  func matchesPillow(index: Int) {
    let c = Self.cases.cases[index]
    let input = Array(Self.blob[c.input_offset..<c.input_offset + c.w * c.h * 3])
    let expected = Array(Self.blob[c.output_offset..<c.output_offset + c.ow * c.oh * 3])
    let output = PILResampler.resize(
      input,
      width: c.w,
      height: c.h,
      channels: 3,
      toWidth: c.ow,
      height: c.oh,
      filter: c.filter == "bicubic" ? .bicubic : .bilinear
    )
    let differing = zip(output, expected).filter { $0 != $1 }.count
    #expect(differing == 0, "\(c.w)x\(c.h) → \(c.ow)x\(c.oh) \(c.filter): \(differing) differ")
  }
}
