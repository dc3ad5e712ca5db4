// Loading a LLaVA checkpoint's tensors into engine views (see LlavaWeights), and building the
// typed parameter structs from them once, so that no forward pass looks a name up.
import Checkpoints
import Engine

/// What `LlavaWeights.init` fills: views, fp32-widened vectors, and the buffers it owns.
struct WeightLoader {
  let precision: MatmulPrecision
  var views: [String: WeightView] = [:]
  var vectors: [String: UnsafeMutablePointer<Float>] = [:]
  var owned: [UnsafeMutableRawPointer] = []

  init(precision: MatmulPrecision) { self.precision = precision }

  /// Frees what was allocated (a load that failed half-way).
  func deallocate() {
    for pointer in owned { pointer.deallocate() }
  }

  mutating func load(_ name: String, _ tensor: TensorView) throws(ModelError) {
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

  /// `view` with bf16 panels attached when products with it run on them (`precision: bf16`,
  /// or fp32 with `BF16Products.splitsFP32`): a bf16 matrix used in products (not the token
  /// embedding, which is looked up; not a 1-D parameter).
  private mutating func packedIfBF16(_ name: String, _ view: WeightView, _ tensor: TensorView)
    -> WeightView
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

  // MARK: typed parameters

  func weight(_ name: String) -> WeightView {
    guard let view = views[name] else { preconditionFailure("weight \(name) was not loaded") }
    return view
  }

  func vector(_ name: String) -> UnsafePointer<Float> {
    guard let pointer = vectors[name] else { preconditionFailure("vector \(name) not loaded") }
    return UnsafePointer(pointer)
  }

  func linear(_ name: String, bias: String?) -> LinearParameters {
    LinearParameters(
      weight: weight(name),
      bias: bias.flatMap { vectors[$0] }.map { UnsafePointer($0) }
    )
  }

  func norm(_ name: String, bias: String) -> NormParameters {
    NormParameters(weight: vector(name), bias: vector(bias))
  }

  func decoderParameters(_ config: LlavaConfig, head: LlavaHead) -> DecoderParameters {
    let layers = (0..<config.text.numHiddenLayers).map { index in
      let n = LlavaWeightNames.textLayer(index)
      func linear(_ name: String) -> LinearParameters { self.linear(name, bias: n.bias(of: name)) }
      return DecoderLayerParameters(
        inputNorm: vector(n.inputLayerNorm),
        q: linear(n.qProj),
        k: linear(n.kProj),
        v: linear(n.vProj),
        o: linear(n.oProj),
        postNorm: vector(n.postAttentionLayerNorm),
        gate: linear(n.gateProj),
        up: linear(n.upProj),
        down: linear(n.downProj)
      )
    }
    return DecoderParameters(
      embed: weight(LlavaWeightNames.embedTokens),
      layers: layers,
      finalNorm: vector(LlavaWeightNames.finalNorm),
      lmHead: views[LlavaWeightNames.lmHead],
      score: views[LlavaWeightNames.score] == nil
        ? nil : linear(LlavaWeightNames.score, bias: LlavaWeightNames.scoreBias)
    )
  }

  func visionParameters(_ config: LlavaConfig) -> VisionParameters {
    let layers = (0..<config.visionLayersUsed).map { index in
      let n = LlavaWeightNames.visionLayer(index)
      func linear(_ name: String) -> LinearParameters { self.linear(name, bias: n.bias(of: name)) }
      return VisionLayerParameters(
        norm1: norm(n.layerNorm1, bias: n.bias(of: n.layerNorm1)),
        q: linear(n.qProj),
        k: linear(n.kProj),
        v: linear(n.vProj),
        out: linear(n.outProj),
        norm2: norm(n.layerNorm2, bias: n.bias(of: n.layerNorm2)),
        fc1: linear(n.fc1),
        fc2: linear(n.fc2)
      )
    }
    return VisionParameters(
      patchEmbedding: weight(LlavaWeightNames.patchEmbedding),
      classEmbedding: vector(LlavaWeightNames.classEmbedding),
      positionEmbedding: vector(LlavaWeightNames.positionEmbedding),
      preNorm: norm(LlavaWeightNames.preLayerNormWeight, bias: LlavaWeightNames.preLayerNormBias),
      layers: layers
    )
  }

  func projectorParameters() -> ProjectorParameters {
    ProjectorParameters(
      linear1: linear(LlavaWeightNames.projector1Weight, bias: LlavaWeightNames.projector1Bias),
      linear2: linear(LlavaWeightNames.projector2Weight, bias: LlavaWeightNames.projector2Bias)
    )
  }
}
