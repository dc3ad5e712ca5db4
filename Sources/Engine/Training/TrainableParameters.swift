/// The trainable parameters of a run (the LoRA A and B of every adapted linear, a reward or
/// value head), llm.c style: four allocations of the same size, parallel to each other —
/// `parameters`, `gradients` (llm.c's grads_memory), and AdamW's `m` and `v` (m_memory,
/// v_memory) — with every tensor addressed by its `Segment`'s offset. Gradients accumulate
/// over micro-batches (`+=`, the engine's gradient rule); `step` counts optimizer updates.
///
/// A `LoRAWeights` for the forward pass is an f32 `WeightView` over two segments
/// (`weightView(_:)`), so the serving kernels run on the trainable values unchanged.
public struct TrainableParameters: ~Copyable {
  /// One named tensor inside the buffers.
  public struct Segment: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
  }

  public let segments: [Segment]
  public let parameters: Tensor
  public let gradients: Tensor
  public let m: Tensor
  public let v: Tensor
  /// Optimizer updates done so far (torch's `state["step"]`).
  public private(set) var step = 0

  /// Zero-filled buffers for the named shapes, in order (no padding between tensors).
  public init(_ tensors: [(name: String, shape: [Int])]) {
    let segments = Self.segments(tensors)
    let offset = segments.last.map { $0.offset + $0.count } ?? 0
    self.segments = segments
    parameters = Tensor(shape: [offset])
    gradients = Tensor(shape: [offset])
    m = Tensor(shape: [offset])
    v = Tensor(shape: [offset])
  }

  /// The segments `init` lays out for `tensors` (in order, no padding): a model's typed view
  /// of its trainable tensors can be computed before (or without) allocating them.
  public static func segments(_ tensors: [(name: String, shape: [Int])]) -> [Segment] {
    var offset = 0
    var segments: [Segment] = []
    for (name, shape) in tensors {
      precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(name) \(shape)")
      let segment = Segment(name: name, shape: shape, offset: offset)
      segments.append(segment)
      offset += segment.count
    }
    return segments
  }

  public var count: Int { parameters.count }

  public func segment(_ name: String) -> Segment? { segments.first { $0.name == name } }

  public func parameters(_ segment: Segment) -> UnsafeMutablePointer<Float> {
    parameters.data + segment.offset
  }

  public func gradients(_ segment: Segment) -> UnsafeMutablePointer<Float> {
    gradients.data + segment.offset
  }

  /// An f32 view of a segment's parameters (valid while `self` is alive and not moved).
  public func weightView(_ segment: Segment) -> WeightView {
    let bytes = UnsafeRawBufferPointer(
      start: parameters.data + segment.offset,
      count: segment.count * MemoryLayout<Float>.stride
    )
    do {
      return try WeightView(bytes: bytes, dtype: .f32, shape: segment.shape)
    } catch {
      preconditionFailure("segment \(segment.name): \(error)")  // the shape matches by construction
    }
  }

  /// Once per optimizer step, before the first micro-batch's backward.
  public func zeroGradients() { gradients.buffer.update(repeating: 0) }

  /// Gradient accumulation: micro-batch gradients were summed; scale them (by `1 / n` for
  /// the mean over n micro-batches, when the loss was not already divided).
  public func scaleGradients(by factor: Float) {
    for i in 0..<gradients.count { gradients.data[i] *= factor }
  }

  /// `GradientClipping.clip` over all gradients together; returns the norm before clipping.
  @discardableResult
  public func clipGradients(maxNorm: Float) -> Float {
    GradientClipping.clip([gradients.buffer], maxNorm: maxNorm)
  }

  /// One AdamW update of every parameter at the given rate; counts the step.
  public mutating func update(_ optimizer: AdamW, learningRate: Float) {
    step += 1
    optimizer.update(
      parameters: parameters.data,
      gradients: gradients.data,
      m: m.data,
      v: v.data,
      count: count,
      learningRate: learningRate,
      step: step
    )
  }

  /// Restores the step count (a trainer checkpoint; the buffers are restored by copying).
  public mutating func restore(step: Int) {
    precondition(step >= 0, "negative step \(step)")
    self.step = step
  }
}
