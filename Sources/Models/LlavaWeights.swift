// The base weights of a LLaVA checkpoint as engine views, keyed by canonical name
// (`LlavaWeightNames`). Matrices stay in the mmap'd file in their stored dtype (f32, f16 or
// bf16); only a tensor whose bytes are misaligned for its dtype is copied, once, into an owned
// aligned buffer, and with `precision: .bf16` each bf16 matrix is repacked, once, into owned
// panels for `BF16Products` (the file's pages are then released). Small parameters that the
// kernels take as fp32 pointers (norm weights, biases, embeddings that are added) are widened to
// fp32 once at load. Nothing here is ever written after `init`: the weights are immutable and
// shared by every request, and LoRA deltas (next issue) live in separate buffers.
public import Checkpoints
public import Engine

/// Immutable, shared base weights of one LLaVA checkpoint.
///
/// `@unchecked Sendable`: every stored property is a `let`, the mapped file is held by
/// `checkpoint`, and the owned buffers are written only during `init` and freed in `deinit`.
public final class LlavaWeights: @unchecked Sendable {
  public let checkpoint: LlavaCheckpoint
  public var config: LlavaConfig { checkpoint.config }
  public var head: LlavaHead { checkpoint.head }

  private var views: [String: WeightView] = [:]
  private var vectors: [String: UnsafeMutablePointer<Float>] = [:]
  private var owned: [UnsafeMutableRawPointer] = []

  /// How products with these weights round their activations (`MatmulPrecision`).
  public let precision: MatmulPrecision

  /// Opens `directory` (`LlavaCheckpoint` validates names, shapes and dtypes).
  public convenience init(
    directory: String,
    head: LlavaHead? = nil,
    precision: MatmulPrecision = .fp32
  ) throws(ModelError) {
    do {
      try self.init(
        checkpoint: LlavaCheckpoint(directory: directory, head: head),
        precision: precision
      )
    } catch let error as CheckpointError {
      throw .checkpoint(error)
    } catch {
      throw .checkpoint(CheckpointError(.io, "\(error)"))
    }
  }

  /// With `precision: .bf16` every bf16 matrix used in products is repacked for
  /// `BF16Products` (the mapped original's pages are released, so memory does not double);
  /// that needs an AVX512-BF16 CPU and is refused without one.
  public init(checkpoint: LlavaCheckpoint, precision: MatmulPrecision = .fp32) throws(ModelError) {
    if precision == .bf16 && !BF16Products.isSupported { throw .bf16ProductsUnsupported }
    self.checkpoint = checkpoint
    self.precision = precision
    let expected = LlavaWeightNames.expected(for: checkpoint.config, head: checkpoint.head)
    // Optional tensors with a known shape (e.g. `score.bias`) are loaded when present.
    var names = expected.filter {
      $0.shape != nil && ($0.required || ($0.usedWhenPresent && checkpoint.contains($0.name)))
    }.map(\.name)
    if checkpoint.head == .languageModel && checkpoint.config.tieWordEmbeddings {
      names.append(LlavaWeightNames.lmHead)
    }
    for name in names {
      let tensor: TensorView
      do { tensor = try checkpoint.tensor(name) } catch { throw .checkpoint(error) }
      try load(name, tensor)
    }
  }

  deinit {
    for pointer in owned { pointer.deallocate() }
  }

  private func load(_ name: String, _ tensor: TensorView) throws(ModelError) {
    let dtype: WeightView.DType
    switch tensor.dtype {
    case .f32: dtype = .f32
    case .f16: dtype = .f16
    case .bf16: dtype = .bf16
    default: throw .checkpoint(CheckpointError(.unsupportedDType, "\(name): \(tensor.dtype)"))
    }
    var shape = tensor.shape
    // The patch-embedding conv (VH, 3, P, P) is used as a matmul weight (VH, 3·P·P).
    if shape.count > 2 { shape = [shape[0], shape.dropFirst().reduce(1, *)] }
    var bytes = tensor.bytes
    if UInt(bitPattern: bytes.baseAddress) % UInt(dtype.byteSize) != 0 {
      let copy = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
      copy.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
      owned.append(copy)
      bytes = UnsafeRawBufferPointer(start: copy, count: bytes.count)
    }
    let view: WeightView
    do { view = try WeightView(bytes: bytes, dtype: dtype, shape: shape) } catch {
      throw .engine(error)
    }
    views[name] = packedIfBF16(name, view, tensor)
    if tensor.shape.count == 1 || name == LlavaWeightNames.positionEmbedding {
      let floats = UnsafeMutableRawPointer.allocate(
        byteCount: max(view.count, 1) * 4,
        alignment: 64
      )
      owned.append(floats)
      let pointer = floats.bindMemory(to: Float.self, capacity: max(view.count, 1))
      view.convertRows(0..<view.rows, into: pointer)
      vectors[name] = pointer
    }
  }

  /// `view` with bf16 panels attached when products with it run on them (`precision: bf16`, or
  /// fp32 with `BF16Products.splitsFP32`): a bf16 matrix used in products (not the token embedding, which is looked up; not a 1-D parameter).
  private func packedIfBF16(_ name: String, _ view: WeightView, _ tensor: TensorView) -> WeightView
  {
    // fp32 products take the same panels on AMX hosts, with split activations (exact fp32).
    let splitting = precision == .fp32 && BF16Products.splitsFP32
    guard precision == .bf16 || splitting, view.dtype == .bf16, view.shape.count == 2,
      name != LlavaWeightNames.embedTokens, name != LlavaWeightNames.positionEmbedding
    else { return view }
    let bytes = BF16Products.panelByteCount(rows: view.rows, columns: view.columns)
    let panels = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
    owned.append(panels)
    let packed = BF16Products.pack(view, into: panels, splitting: splitting)
    tensor.releaseResidentPages()
    return packed
  }

  /// The weight `name` as stored (a matrix `(N, K)`; the patch conv flattened to 2-D).
  public func weight(_ name: String) -> WeightView {
    guard let view = views[name] else { preconditionFailure("weight \(name) was not loaded") }
    return view
  }

  /// A 1-D parameter (or the position embedding) widened to fp32.
  public func vector(_ name: String) -> UnsafePointer<Float> {
    guard let pointer = vectors[name] else { preconditionFailure("vector \(name) not loaded") }
    return UnsafePointer(pointer)
  }

  /// A 1-D parameter that may be absent (biases the config makes optional).
  public func optionalVector(_ name: String) -> UnsafePointer<Float>? {
    vectors[name].map { UnsafePointer($0) }
  }

  /// Whether `name` was loaded.
  public func contains(_ name: String) -> Bool { views[name] != nil }
}
