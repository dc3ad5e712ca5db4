/// A read-only view of weights in borrowed memory: fp32, f16 or bf16, little-endian, row-major.
///
/// The memory usually belongs to an mmap'd checkpoint (the `Checkpoints` module validates the
/// file and hands out raw tensor bytes) or to a `Tensor`. Base weights are immutable and shared
/// by every request, so the view never writes; LoRA deltas live in separate buffers.
/// The owner of the memory must keep it alive and unchanged while views exist, which is what
/// makes the `@unchecked Sendable` sound: reading immutable memory from many threads is safe.
public struct WeightView: @unchecked Sendable {
  /// The first element (naturally aligned for `dtype`).
  public let base: UnsafeRawPointer
  public let dtype: DType
  /// Row-major shape; a matmul weight is `(N, K)`: rows are outputs (Hugging Face layout).
  public let shape: [Int]
  /// Number of elements.
  public let count: Int
  /// The same bf16 matrix repacked for `BF16Products` (`precision: bf16`), or nil: products
  /// with this weight then round their activations to bf16 (see BF16Products.swift).
  public private(set) var bf16Panels: UnsafeRawPointer? = nil
  /// With panels: products keep fp32 activations, split into three bf16 parts
  /// (`BF16Products.forwardSplit`, `precision: fp32` on AMX hosts) instead of rounding them.
  public private(set) var splitsActivations = false

  /// Wraps `bytes` after checking that they hold exactly `shape` elements of `dtype`, naturally
  /// aligned. (safetensors does not promise alignment; a misaligned tensor must be copied.)
  public init(bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int]) throws(EngineError) {
    guard shape.allSatisfy({ $0 >= 0 }) else { throw .negativeDimension(shape: shape) }
    var count = 1
    var overflow = false
    for dimension in shape {
      let product = count.multipliedReportingOverflow(by: dimension)
      count = product.partialValue
      overflow = overflow || product.overflow
    }
    let needed = count.multipliedReportingOverflow(by: dtype.byteSize)
    guard !overflow, !needed.overflow, needed.partialValue == bytes.count else {
      let expected = overflow || needed.overflow ? Int.max : needed.partialValue
      throw .byteCountMismatch(shape: shape, dtype: dtype, expected: expected, actual: bytes.count)
    }
    // An empty buffer may have no base address; any aligned non-null pointer will do then.
    let base = bytes.baseAddress ?? UnsafeRawPointer(bitPattern: Tensor.alignment)!
    let address = UInt(bitPattern: base)
    guard address % UInt(dtype.byteSize) == 0 else {
      throw .misaligned(dtype: dtype, address: address)
    }
    self.init(unchecked: base, dtype: dtype, shape: shape)
  }

  /// Wraps memory the engine already knows to be valid (a `Tensor`'s own buffer).
  init(unchecked base: UnsafeRawPointer, dtype: DType, shape: [Int]) {
    self.base = base
    self.dtype = dtype
    self.shape = shape
    self.count = shape.reduce(1, *)
  }

  /// This view with `panels` (filled by `BF16Products.pack`) attached: Matmul and GEMV then
  /// take the bf16 products (`splitting`: the exact fp32 products on the same panels). The
  /// owner of the panels keeps them alive as long as the weights.
  public func withBF16Panels(_ panels: UnsafeRawPointer, splitting: Bool = false) -> WeightView {
    precondition(dtype == .bf16, "bf16 panels of a \(dtype) weight")
    var copy = self
    copy.bf16Panels = panels
    copy.splitsActivations = splitting
    return copy
  }

  /// Stops with a message unless this is an `(N, K)` matrix: a caller's bug, not bad input
  /// (every kernel that takes a weight checks it this way).
  func requireShape(_ N: Int, _ K: Int) {
    precondition(rows == N && columns == K, "weight \(shape) is not (\(N), \(K))")
  }

  /// The size of the first dimension (output rows of a matmul weight); 1 for a scalar.
  public var rows: Int { shape.first ?? 1 }
  /// Elements per row: the product of every dimension after the first.
  public var columns: Int { shape.isEmpty ? 1 : shape.dropFirst().reduce(1, *) }

  /// The first byte of row `row`.
  public func rowAddress(_ row: Int) -> UnsafeRawPointer {
    base + row * columns * dtype.byteSize
  }

  /// One element, converted to fp32 (scalar reference path; slow, for tests and spot checks).
  public func element(_ index: Int) -> Float {
    precondition(index >= 0 && index < count, "index \(index) out of range 0..<\(count)")
    switch dtype {
    case .f32:
      return base.loadUnaligned(fromByteOffset: index * 4, as: Float.self)
    case .f16:
      return HalfPrecision.float(
        fromF16: base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)
      )
    case .bf16:
      return HalfPrecision.float(
        fromBF16: base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)
      )
    }
  }

  /// Converts rows `rows` to fp32 into `out`, `(rows.count, columns)` (fast path).
  public func convertRows(_ rows: Range<Int>, into out: UnsafeMutablePointer<Float>) {
    precondition(rows.lowerBound >= 0 && rows.upperBound <= self.rows, "rows out of range")
    Convert.forward(
      out: out,
      in: rowAddress(rows.lowerBound),
      dtype: dtype,
      count: rows.count * columns
    )
  }
}
