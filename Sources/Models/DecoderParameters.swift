// The language model's parameters as typed structs, built once at load (llm.c's
// `ParameterTensors`): the forward passes index `layers[l].q` instead of looking a name up in a
// dictionary per layer per step. Every struct holds views into `LlavaWeights`' memory (the mmap'd
// file, aligned copies, bf16 panels, fp32-widened vectors), so it is valid while the weights are.
// Each decoder linear has a LoRA slot: `DecoderLayerLoRA` (one per adapter, per layer) mirrors
// `DecoderLayerParameters` target by target (see DecoderAdapter.swift).
public import Engine

/// A linear layer: `out = in · weightᵀ + bias`, weight `(N, K)`.
public struct LinearParameters: @unchecked Sendable {
  /// `(N, K)` as stored (with bf16 panels attached under `precision: bf16`).
  public let weight: WeightView
  /// `(N)` widened to fp32, or nil.
  public let bias: UnsafePointer<Float>?

  public var outFeatures: Int { weight.rows }
  public var inFeatures: Int { weight.columns }
}

/// The seven linears of a decoder layer that a LoRA adapter can target (PEFT's module names).
public enum DecoderLinear: Int, CaseIterable, Sendable, CustomStringConvertible {
  case q, k, v, o, gate, up, down

  /// The PEFT / transformers module name (`q_proj` ...).
  public var moduleName: String {
    switch self {
    case .q: "q_proj"
    case .k: "k_proj"
    case .v: "v_proj"
    case .o: "o_proj"
    case .gate: "gate_proj"
    case .up: "up_proj"
    case .down: "down_proj"
    }
  }

  /// The module's parent in a Llama layer (`self_attn` or `mlp`).
  public var block: String {
    switch self {
    case .q, .k, .v, .o: "self_attn"
    case .gate, .up, .down: "mlp"
    }
  }

  public var description: String { moduleName }
}

/// One Llama decoder layer. `C` hidden, `NH`/`NKV` heads, `HS` head size, `I` MLP size.
public struct DecoderLayerParameters: @unchecked Sendable {
  public let inputNorm: UnsafePointer<Float>  // (C)
  public let q: LinearParameters  // (NH·HS, C)
  public let k: LinearParameters  // (NKV·HS, C)
  public let v: LinearParameters  // (NKV·HS, C)
  public let o: LinearParameters  // (C, NH·HS)
  public let postNorm: UnsafePointer<Float>  // (C)
  public let gate: LinearParameters  // (I, C)
  public let up: LinearParameters  // (I, C)
  public let down: LinearParameters  // (C, I)

  public subscript(_ linear: DecoderLinear) -> LinearParameters {
    switch linear {
    case .q: q
    case .k: k
    case .v: v
    case .o: o
    case .gate: gate
    case .up: up
    case .down: down
    }
  }
}

/// The whole language model: embeddings, layers, final norm and the head the checkpoint has.
public struct DecoderParameters: @unchecked Sendable {
  public let embed: WeightView  // (V, C)
  public let layers: [DecoderLayerParameters]
  public let finalNorm: UnsafePointer<Float>  // (C)
  /// `(V, C)` (the embedding when tied); nil for a reward model.
  public let lmHead: WeightView?
  /// The reward head `(1, C)` (+ bias `(1)`); nil for a policy.
  public let score: LinearParameters?
}

/// LLaVA's multi-modal projector.
public struct ProjectorParameters: Sendable {
  public let linear1: LinearParameters  // (H, VC)
  public let linear2: LinearParameters  // (H, H)
}
