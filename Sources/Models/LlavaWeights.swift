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

  private let views: [String: WeightView]
  private let vectors: [String: UnsafeMutablePointer<Float>]
  private let owned: [UnsafeMutableRawPointer]

  /// The language model's parameters, typed (what the decoder forwards read).
  public let decoder: DecoderParameters
  /// The vision tower's parameters, typed (the layers LLaVA uses).
  public let vision: VisionParameters
  /// The projector's parameters, typed.
  public let projector: ProjectorParameters

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
    let expected = LlavaWeightNames.expected(for: checkpoint.config, head: checkpoint.head)
    // Optional tensors with a known shape (e.g. `score.bias`) are loaded when present.
    var names = expected.filter {
      $0.shape != nil && ($0.required || ($0.usedWhenPresent && checkpoint.contains($0.name)))
    }.map(\.name)
    if checkpoint.head == .languageModel && checkpoint.config.tieWordEmbeddings {
      names.append(LlavaWeightNames.lmHead)
    }
    var loader = WeightLoader(precision: precision)
    for name in names {
      let tensor: TensorView
      do { tensor = try checkpoint.tensor(name) } catch {
        loader.deallocate()
        throw .checkpoint(error)
      }
      do { try loader.load(name, tensor) } catch {
        loader.deallocate()
        throw error
      }
    }
    self.checkpoint = checkpoint
    self.precision = precision
    views = loader.views
    vectors = loader.vectors
    owned = loader.owned
    decoder = loader.decoderParameters(checkpoint.config, head: checkpoint.head)
    vision = loader.visionParameters(checkpoint.config)
    projector = loader.projectorParameters()
  }

  deinit {
    for pointer in owned { pointer.deallocate() }
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
