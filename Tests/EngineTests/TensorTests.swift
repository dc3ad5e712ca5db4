import Engine
import Testing

@Suite struct TensorTests {
  @Test func shapeStridesAndIndexing() {
    let tensor = Tensor(shape: [2, 3, 4])
    #expect(tensor.count == 24)
    #expect(tensor.strides == [12, 4, 1])
    #expect(tensor.toArray().allSatisfy { $0 == 0 })
    tensor[1, 2, 3] = 5
    #expect(tensor.data[23] == 5)
    #expect(tensor.offset(of: [1, 0, 2]) == 14)
    #expect(Int(bitPattern: tensor.data) % Tensor.alignment == 0)
  }

  @Test func emptyAndScalarShapes() {
    let empty = Tensor(shape: [0, 5], values: [])
    #expect(empty.count == 0)
    #expect(empty.strides == [5, 1])
    let scalar = Tensor(shape: [], values: [3])
    #expect(scalar.count == 1)
    #expect(scalar[] == 3)
  }

  @Test func weightViewOfTensorReadsItsValues() {
    let tensor = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
    let view = tensor.weightView
    #expect(view.dtype == .f32)
    #expect(view.rows == 2 && view.columns == 3)
    #expect((0..<6).map { view.element($0) } == [1, 2, 3, 4, 5, 6])
  }

  @Test func weightViewValidatesBytes() throws {
    let bits: [UInt16] = [0x3F80, 0x4000, 0x4040, 0x4080]
    try bits.withUnsafeBytes { bytes in
      let view = try WeightView(bytes: bytes, dtype: .bf16, shape: [2, 2])
      #expect((0..<4).map { view.element($0) } == [1, 2, 3, 4])
      var row = [Float](repeating: 0, count: 2)
      view.convertRows(1..<2, into: &row)
      #expect(row == [3, 4])

      #expect(
        throws: EngineError.byteCountMismatch(shape: [3, 2], dtype: .bf16, expected: 12, actual: 8)
      ) {
        try WeightView(bytes: bytes, dtype: .bf16, shape: [3, 2])
      }
      #expect(throws: EngineError.negativeDimension(shape: [-2, -2])) {
        try WeightView(bytes: bytes, dtype: .bf16, shape: [-2, -2])
      }
      let odd = UnsafeRawBufferPointer(rebasing: bytes[1..<5])
      #expect(throws: EngineError.self) { try WeightView(bytes: odd, dtype: .bf16, shape: [2]) }
      // A shape whose byte count overflows is a mismatch, not a crash.
      #expect(throws: EngineError.self) {
        try WeightView(bytes: bytes, dtype: .f32, shape: [Int.max / 2, 3])
      }
    }
    let empty = try WeightView(
      bytes: UnsafeRawBufferPointer(start: nil, count: 0),
      dtype: .f16,
      shape: [0, 4]
    )
    #expect(empty.count == 0)
  }
}
