/// An owned, zero-initialised, 64-byte-aligned fp32 buffer with a row-major shape.
///
/// `Tensor` is `~Copyable` rather than a class, on purpose:
/// - Ownership is unique and the memory is freed exactly when the owner goes away. A model's
///   activations can be gigabytes; a stray reference (a class captured in a closure, a cache that
///   forgot to drop it) must not keep them alive silently.
/// - No reference counting on the hot path, and no aliasing owners: two `Tensor`s never share
///   storage, so "who may free this" has one answer.
/// - A `~Copyable` value that is not otherwise shared can be handed to another thread by moving
///   it (`consume`, `sending`), which is exactly the hand-over the scheduler needs.
///
/// The cost is that `Tensor` cannot sit in an `Array`. The engine's style does not need that:
/// models own a few large tensors (llm.c's `ParameterTensors` / `ActivationTensors`, one
/// allocation each) and address layers and buffers inside them by offset, as plain pointers.
///
/// `data` is a borrowed pointer: it is valid while the tensor is alive and must not escape it.
/// Writes go through it even on a `let` tensor, as with `UnsafeMutableBufferPointer`: the
/// tensor owns memory, it is not itself a value whose bits change.
public struct Tensor: ~Copyable {
  /// Alignment of every allocation: a cache line, and a whole AVX-512 register.
  public static let alignment = 64

  /// Sizes of the dimensions, outermost first (row-major: the last axis is contiguous).
  public let shape: [Int]
  /// Elements to step over per index of each dimension; `strides.last == 1`.
  public let strides: [Int]
  /// Number of elements, the product of `shape` (1 for a scalar, shape `[]`).
  public let count: Int
  /// The first element. Valid for `count` elements while the tensor is alive.
  public let data: UnsafeMutablePointer<Float>

  /// Allocates a zero-filled tensor. Every dimension must be non-negative.
  public init(shape: [Int]) {
    precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
    var strides = [Int](repeating: 1, count: shape.count)
    var count = 1
    for axis in shape.indices.reversed() {
      strides[axis] = count
      let (product, overflow) = count.multipliedReportingOverflow(by: shape[axis])
      precondition(!overflow, "shape \(shape) overflows Int")
      count = product
    }
    self.shape = shape
    self.strides = strides
    self.count = count
    // At least one element so that `data` is always a real allocation.
    let raw = UnsafeMutableRawPointer.allocate(
      byteCount: max(count, 1) * MemoryLayout<Float>.stride,
      alignment: Tensor.alignment
    )
    raw.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1) * 4)
    self.data = raw.bindMemory(to: Float.self, capacity: max(count, 1))
  }

  /// Allocates a tensor and copies `values` (row-major) into it.
  public init(shape: [Int], values: [Float]) {
    self.init(shape: shape)
    precondition(values.count == count, "\(values.count) values for shape \(shape)")
    values.withUnsafeBufferPointer { source in
      if let base = source.baseAddress { data.update(from: base, count: count) }
    }
  }

  deinit {
    UnsafeMutableRawPointer(data).deallocate()
  }

  /// The whole buffer, for loops and copies.
  public var buffer: UnsafeMutableBufferPointer<Float> {
    UnsafeMutableBufferPointer(start: data, count: count)
  }

  /// The element at a full multi-index (one index per dimension), bounds-checked.
  public subscript(_ indices: Int...) -> Float {
    get { data[offset(of: indices)] }
    nonmutating set { data[offset(of: indices)] = newValue }
  }

  /// The flat offset of a full multi-index, bounds-checked.
  public func offset(of indices: [Int]) -> Int {
    precondition(indices.count == shape.count, "\(indices.count) indices for shape \(shape)")
    var offset = 0
    for axis in indices.indices {
      precondition(indices[axis] >= 0 && indices[axis] < shape[axis], "index out of range")
      offset += indices[axis] * strides[axis]
    }
    return offset
  }

  /// Copies the elements out, row-major (for tests and debugging).
  public func toArray() -> [Float] {
    Array(UnsafeBufferPointer(start: data, count: count))
  }

  /// A read-only fp32 weight view over this tensor's memory, seen as `(shape[0], rest)`.
  /// The view borrows the memory: it must not outlive the tensor.
  public var weightView: WeightView {
    WeightView(unchecked: UnsafeRawPointer(data), dtype: .f32, shape: shape)
  }
}
