import Testing

@testable import Imaging

/// Decoding and CLIPImageProcessor pixel values against transformers (Tests/Fixtures/images).
@Suite struct PreprocessorTests {
  static let images = Fixtures.reference.images

  @Test func configurationFromJSON() {
    let c = Fixtures.configuration
    #expect(c.size == .shortestEdge(32))
    #expect(c.cropHeight == 32 && c.cropWidth == 32)
    #expect(c.resample == .bicubic)
    #expect(c.rescaleFactor == 1.0 / 255.0)
    #expect(CLIPPreprocessor(configuration: c).backgroundFill == (122, 116, 104))
  }

  @Test(arguments: images.indices)
  func decodedRGBMatchesConvertRGB(index: Int) throws {
    let entry = Self.images[index]
    let image = try ImageDecoder().decode(Fixtures.image(entry.file))
    #expect(image.width == entry.width && image.height == entry.height)
    if let decoded = entry.decoded_u8 {
      // JPEG: libjpeg-turbo 2.1.5 against the PIL-decoded bytes.
      let reference = Fixtures.image(decoded.file)
      let differing = zip(image.pixels, reference).filter { $0 != $1 }.count
      #expect(differing == 0, "\(differing) of \(reference.count) JPEG bytes differ from PIL")
    }
    #expect(image.pixels == Fixtures.image(entry.rgb_u8.file), "\(entry.file)")
  }

  @Test(arguments: images.indices)
  func pixelValuesMatchTransformers(index: Int) throws {
    let entry = Self.images[index]
    let decoded = try ImageDecoder().decode(Fixtures.image(entry.file))
    // For the JPEG, also start from PIL's own decode so that preprocessing is checked exactly.
    var inputs = [decoded]
    if let pil = entry.decoded_u8 {
      inputs.append(
        RGBImage(width: entry.width, height: entry.height, pixels: Fixtures.image(pil.file))
      )
    }
    for output in entry.outputs {
      let processor = CLIPPreprocessor(
        configuration: Fixtures.configuration,
        padToSquare: output.variant == "pad"
      )
      for image in inputs {
        if let pad = output.pad_rgb_u8 {
          let padded = image.expandedToSquare(fill: processor.backgroundFill)
          #expect(padded.pixels == Fixtures.image(pad.file), "\(entry.file) pad")
        }
        let size = processor.outputSize(
          height: processor.padToSquare ? max(image.width, image.height) : image.height,
          width: processor.padToSquare ? max(image.width, image.height) : image.width
        )
        #expect([size.height, size.width] == output.resized_hw, "\(entry.file) \(output.variant)")
        let cropped = processor.resizedAndCropped(image)
        #expect(
          channelMajor(cropped) == Fixtures.image(output.resized_u8.file),
          "\(entry.file) \(output.variant)"
        )
        let values = processor.pixelValues(for: image)
        let reference = Fixtures.floats(output.pixel_values.file)
        #expect(values.height == 32 && values.width == 32 && values.values.count == reference.count)
        let worst = zip(values.values, reference).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5, "\(entry.file) \(output.variant): max |Δ| \(worst)")
      }
    }
  }
}
