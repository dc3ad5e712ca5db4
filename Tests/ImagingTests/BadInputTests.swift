import Testing

@testable import Imaging

/// Bytes that are no image, lie in their header, or break mid-stream: each gives its error code
/// with a message and never crashes.
@Suite struct BadInputTests {
  static let png = Fixtures.image("rgb_64x48.png")
  static let jpeg = Fixtures.image("rgb_64x48_q90.jpg")

  static let cases: [(name: String, bytes: [UInt8], code: ImagingError.Code)] = {
    var random = SplitMix64(seed: 11)
    let noise = [0] + (0..<999).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    return [
      ("empty", [], .notAnImage),
      ("random bytes", noise, .notAnImage),
      ("text", Array("hello, not an image".utf8), .notAnImage),
      ("PNG signature only", Array(png.prefix(8)), .corrupt),
      ("PNG cut inside IHDR", Array(png.prefix(20)), .corrupt),
      ("truncated PNG", Array(png.prefix(png.count / 2)), .corrupt),
      ("PNG claiming 100000x100000", pngHeader(width: 100_000, height: 100_000), .tooLarge),
      ("PNG claiming 0x0", pngHeader(width: 0, height: 0), .corrupt),
      ("PNG claiming 0x10", pngHeader(width: 0, height: 10), .corrupt),
      ("PNG with colour type 5", pngHeader(width: 4, height: 4, colorType: 5), .corrupt),
      (
        "PNG with 16-bit palette", pngHeader(width: 4, height: 4, depth: 16, colorType: 3), .corrupt
      ),
      ("corrupt IDAT, valid CRC", corruptIDAT(fixCRC: true), .corrupt),
      ("corrupt IDAT, bad CRC", corruptIDAT(fixCRC: false), .corrupt),
      ("intact IDAT, bad CRC", corruptIDAT(scramble: false, fixCRC: false), .corrupt),
      ("truncated JPEG", Array(jpeg.prefix(jpeg.count / 2)), .corrupt),
      ("JPEG markers only", [0xFF, 0xD8, 0xFF, 0xD9], .corrupt),
      ("JPEG SOI and noise", [0xFF, 0xD8, 0xFF] + noise.prefix(200), .corrupt),
      ("JPEG claiming height 0", jpegWithSize(width: 64, height: 0), .corrupt),
      ("JPEG claiming 60000x60000", jpegWithSize(width: 60000, height: 60000), .tooLarge),
      ("GIF", Array("GIF89a".utf8) + [1, 0, 1, 0, 0x80, 0, 0], .unsupportedFormat),
      ("BMP", Array("BM".utf8) + [UInt8](repeating: 0, count: 52), .unsupportedFormat),
      ("WebP", Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBPVP8 ".utf8), .unsupportedFormat),
      ("TIFF", Array("II*".utf8) + [0, 8, 0, 0, 0], .unsupportedFormat),
    ]
  }()

  @Test(arguments: cases.indices)
  func rejected(index: Int) {
    let (name, bytes, code) = Self.cases[index]
    let error = #expect(throws: ImagingError.self, "\(name)") { try ImageDecoder().decode(bytes) }
    #expect(error?.code == code, "\(name): \(error?.message ?? "")")
    #expect(error?.message.isEmpty == false, "\(name)")
  }

  /// The oversized claim is refused by the header probe alone, before any pixel buffer exists.
  @Test func oversizedClaimFailsInTheProbe() {
    let error = #expect(throws: ImagingError.self) {
      try ImageDecoder().probe(Self.pngHeader(width: 100_000, height: 100_000))
    }
    #expect(error?.message == "PNG image is 100000x100000, over the limit of 8192x8192")
  }

  /// Random corruption of valid files: decoding either succeeds or throws, never traps.
  @Test(arguments: ["rgb_64x48.png", "rgba_64x48.png", "rgb_64x48_q90.jpg"])
  func mutatedFilesNeverCrash(name: String) {
    let original = Fixtures.image(name)
    var random = SplitMix64(seed: UInt64(original.count))
    var failures = 0
    for _ in 0..<300 {
      var bytes = original
      for _ in 0..<(1 + random.next(below: 8)) {
        bytes[8 + random.next(below: bytes.count - 8)] = UInt8(truncatingIfNeeded: random.next())
      }
      if random.next(below: 4) == 0 { bytes.removeLast(random.next(below: bytes.count / 2)) }
      do {
        let image = try ImageDecoder().decode(bytes)
        #expect(image.pixels.count == image.width * image.height * 3)
      } catch {
        failures += 1
      }
    }
    #expect(failures > 0)
  }

  /// A PNG signature and IHDR chunk (with a correct CRC) and nothing else.
  static func pngHeader(width: UInt32, height: UInt32, depth: UInt8 = 8, colorType: UInt8 = 2)
    -> [UInt8]
  {
    var fields = bigEndian(width) + bigEndian(height)
    fields += [depth, colorType, 0, 0, 0]
    return Array(png.prefix(8)) + chunk("IHDR", fields)
  }

  static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let body = Array(type.utf8) + data
    return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
  }

  /// The fixture PNG with its first IDAT payload scrambled (or only its CRC broken).
  static func corruptIDAT(scramble: Bool = true, fixCRC: Bool) -> [UInt8] {
    var bytes = png
    var offset = 8
    while offset + 8 <= bytes.count {
      let length = Int(bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) })
      if bytes[offset + 4..<offset + 8].elementsEqual("IDAT".utf8) {
        let data = offset + 8
        for i in stride(from: data + 2, to: data + length, by: 3) where scramble {
          bytes[i] ^= 0x5A
        }
        if !scramble { bytes[data + length] ^= 0xFF }
        if fixCRC {
          bytes.replaceSubrange(
            data + length..<data + length + 4,
            with: bigEndian(crc32(Array(bytes[offset + 4..<data + length])))
          )
        }
        return bytes
      }
      offset += 12 + length
    }
    fatalError("no IDAT in the fixture")
  }

  /// The fixture JPEG with the dimensions in its SOF marker replaced.
  static func jpegWithSize(width: UInt16, height: UInt16) -> [UInt8] {
    var bytes = jpeg
    for i in 2..<bytes.count - 9 where bytes[i] == 0xFF && (0xC0...0xC2).contains(bytes[i + 1]) {
      bytes.replaceSubrange(i + 5..<i + 9, with: bigEndian16(height) + bigEndian16(width))
      return bytes
    }
    fatalError("no SOF in the fixture")
  }

  static func bigEndian(_ v: UInt32) -> [UInt8] {
    [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> $0) }
  }
  static func bigEndian16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(truncatingIfNeeded: v)] }

  static func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
      crc ^= UInt32(byte)
      for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
  }
}

struct SplitMix64 {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  mutating func next(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
