// The CLIP vision tower's parameters as typed structs, built once at load (see
// DecoderParameters.swift). Only the layers LLaVA uses (`visionLayersUsed`) are present.
public import Engine

/// A LayerNorm's weight and bias, each `(C)` widened to fp32.
public struct NormParameters: @unchecked Sendable {
  public let weight: UnsafePointer<Float>
  public let bias: UnsafePointer<Float>
}

/// One CLIP encoder layer (pre-LN). `C` vision hidden, `VI` MLP size.
public struct VisionLayerParameters: Sendable {
  public let norm1: NormParameters
  public let q: LinearParameters  // (C, C)
  public let k: LinearParameters  // (C, C)
  public let v: LinearParameters  // (C, C)
  public let out: LinearParameters  // (C, C)
  public let norm2: NormParameters
  public let fc1: LinearParameters  // (VI, C)
  public let fc2: LinearParameters  // (C, VI)
}

/// The vision tower up to the selected layer.
public struct VisionParameters: @unchecked Sendable {
  public let patchEmbedding: WeightView  // (C, 3·P·P) the conv as a matmul weight
  public let classEmbedding: UnsafePointer<Float>  // (C)
  public let positionEmbedding: UnsafePointer<Float>  // (T, C)
  public let preNorm: NormParameters
  public let layers: [VisionLayerParameters]
}
