// Good files in F32, F16 and BF16 read back exactly, from memory and from an mmapped file, at
// unaligned offsets too; the half and bfloat16 conversions are exact for every bit pattern.
import Checkpoints
import Testing

@Suite struct SafeTensorsRoundTripTests {
  static let specials: [Float] = [
    0, -0.0, 1, -1, 0.1, -3.75, .pi, .greatestFiniteMagnitude, -.leastNormalMagnitude,
    .leastNonzeroMagnitude, .infinity, -.infinity, 65_504, 6.1e-5, 5.96e-8,
  ]

  @Test func f32RoundTripsBitExactly() throws {
    let values = Self.specials + [Float.nan, Float(bitPattern: 0x7FC0_1234)]
    let bytes = SafeTensorsWriter.file([TestTensor.f32("w", [values.count], values)])
    let read = try SafeTensorsFile(contents: bytes, name: "f32").tensor("w").floats()
    #expect(read.map(\.bitPattern) == values.map(\.bitPattern))
  }

  @Test func everyHalfBitPatternConvertsExactly() {
    for bits in 0...UInt16.max {
      let expected = Float(Float16(bitPattern: bits))
      let actual = floatFromHalfBits(bits)
      if expected.isNaN {
        // Swift's conversion quiets NaNs; ours keeps the payload. Both are NaN with the same sign.
        #expect(actual.isNaN && actual.sign == expected.sign, "0x\(String(bits, radix: 16))")
        #expect(actual.bitPattern >> 13 & 0x3FF == UInt32(bits & 0x3FF))
      } else if actual.bitPattern != expected.bitPattern {
        Issue.record("half 0x\(String(bits, radix: 16)): \(actual) != \(expected)")
      }
    }
  }

  @Test func bfloat16IsTheTopHalfOfAFloat() {
    for bits in stride(from: 0, through: Int(UInt16.max), by: 1) {
      let value = floatFromBFloat16Bits(UInt16(bits))
      if value.bitPattern != UInt32(bits) << 16 { Issue.record("bf16 \(bits)") }
    }
    #expect(floatFromBFloat16Bits(0x7F80) == .infinity)
    #expect(floatFromBFloat16Bits(0x0001) == Float(bitPattern: 0x0001_0000))  // subnormal
  }

  @Test func f16AndBF16FilesRoundTrip() throws {
    let halfBits: [UInt16] = [
      0x0000, 0x8000, 0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x0400, 0x7C00, 0xFC00, 0x7E01,
    ]
    let bfBits: [UInt16] = [
      0x0000, 0x8000, 0x3F80, 0xC040, 0x7F7F, 0x0001, 0x007F, 0x7F80, 0xFF80, 0x7FC1,
    ]
    let tensors = [
      TestTensor("h", "F16", [halfBits.count], SafeTensorsWriter.bytes(halfBits)),
      TestTensor("b", "BF16", [bfBits.count], SafeTensorsWriter.bytes(bfBits)),
    ]
    let file = try SafeTensorsFile(contents: SafeTensorsWriter.file(tensors), name: "halves")
    let h = try file.tensor("h").floats()
    #expect(h[2] == 1 && h[3] == -2 && h[4] == 65_504 && h[5] == 0x1p-24 && h[6] == 1023 * 0x1p-24)
    #expect(h[7] == 0x1p-14 && h[8] == .infinity && h[9] == -.infinity && h[10].isNaN)
    #expect(h[1].sign == .minus && h[1] == 0)
    let b = try file.tensor("b").floats()
    #expect(b.map(\.bitPattern) == bfBits.map { UInt32($0) << 16 })
  }

  @Test(arguments: [true, false])
  func mappedFileMatchesMemory(padded: Bool) throws {
    // Unpadded headers put the data at odd offsets: every read must be unaligned-safe.
    let tensors = [
      TestTensor("odd", "U8", [3], [1, 2, 3]),
      TestTensor.f32("w", [2, 3], [1, -2, 3.5, 4e-30, 5, 6]),
      TestTensor("h", "F16", [2], SafeTensorsWriter.bytes([UInt16(0x3C00), 0xBC00])),
    ]
    let bytes = SafeTensorsWriter.file(
      tensors,
      metadata: ["format": "pt", "note": "ünïcode"],
      pad: padded
    )
    let directory = try TemporaryDirectory()
    let path = try directory.write("model.safetensors", bytes)
    let file = try SafeTensorsFile(path: path)
    #expect(file.path == path)
    #expect(file.metadata["note"] == "ünïcode")
    #expect(padded == (file.header.dataStart % 8 == 0))
    let w = try file.tensor("w")
    #expect(w.shape == [2, 3] && w.dtype == .f32 && w.elementCount == 6 && w.byteCount == 24)
    #expect(try w.floats() == [1, -2, 3.5, 4e-30, 5, 6])
    #expect(try file.tensor("h").floats() == [1, -1])
    var out = [Float](repeating: 0, count: 6)
    try out.withUnsafeMutableBufferPointer { try w.copyFloats(into: $0) }
    #expect(out == [1, -2, 3.5, 4e-30, 5, 6])
    var short = [Float](repeating: 0, count: 5)
    let error = checkpointError {
      try short.withUnsafeMutableBufferPointer { try w.copyFloats(into: $0) }
    }
    #expect(error?.code == .shapeMismatch)
    #expect(throws: CheckpointError.self) { try w.expectShape([3, 2]) }
  }

  @Test func viewsOutliveTheirFileObject() throws {
    var view: TensorView?
    do {
      let directory = try TemporaryDirectory()
      let path = try directory.write(
        "a.safetensors",
        SafeTensorsWriter.file([TestTensor.f32("x", [2], [7, 8])])
      )
      view = try SafeTensorsFile(path: path).tensor("x")
    }
    #expect(try view?.floats() == [7, 8])
  }
}
