// rlhfd's side of a round: one prefill, one batch-1 decode, one image encode on a model loaded
// with `LlavaWeights` exactly as the daemon loads it, and the arithmetic each figure is held to
// (FLOPs of a prefill, bytes of weights read per decoded token, FLOPs of an image encode).
import BenchSupport
import Checkpoints
import Engine
import Foundation
import Models

final class Phases {
  let precision: MatmulPrecision
  let weights: LlavaWeights
  let model: LlavaModel
  let prompt: [Int32]  // prefill
  let shortPrompt: [Int32]  // before the decode
  let pixels: [Float]

  init(weights: LlavaWeights, precision: MatmulPrecision, prefill: Int, prompt: Int) {
    self.precision = precision
    self.weights = weights
    self.model = LlavaModel(weights: weights)
    var rng = SplitMix(state: 7)
    let V = weights.config.text.vocabSize
    func tokens(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(3 + rng.next() % UInt64(V - 3)) } }
    self.prompt = tokens(prefill)
    self.shortPrompt = tokens(prompt)
    self.pixels = (0..<model.vision.pixelCount).map { _ in rng.uniform(2) }
  }

  /// Parameters of the decoder's matrices (q, k, v, o, gate, up, down over all layers).
  var matmulParams: Int {
    let t = weights.config.text
    let (C, I, NH, NKV, HS) = (
      t.hiddenSize, t.intermediateSize, t.numAttentionHeads, t.numKeyValueHeads, t.headDim
    )
    return t.numHiddenLayers * (2 * C * NH * HS + 2 * C * NKV * HS + 3 * C * I)
  }

  /// FLOPs of a T-token prefill: every matrix once per token, the lm_head for the last row,
  /// causal attention (layers·4·NH·HS·T(T+1)/2).
  func prefillFlops(_ T: Int) -> Double {
    let t = weights.config.text
    let matmul = 2.0 * Double(T) * Double(matmulParams) + 2.0 * Double(t.hiddenSize * t.vocabSize)
    let attention =
      Double(t.numHiddenLayers) * 4.0 * Double(t.numAttentionHeads * t.headDim) * Double(T)
      * Double(T + 1) / 2
    return matmul + attention
  }

  /// Bytes of bf16 weights read per decoded token (layers + lm_head): the decode bound is
  /// bandwidth / this.
  var decodeBytes: Double {
    let t = weights.config.text
    return Double(matmulParams + t.vocabSize * t.hiddenSize) * 2
  }

  var encodeFlops: Double {
    let vc = weights.config.vision
    let C = weights.config.text.hiddenSize
    let (VT, VL) = (vc.positionCount, weights.config.visionLayersUsed)
    let (VC, VI, NP) = (vc.hiddenSize, vc.intermediateSize, vc.patchCount)
    return Double(VL) * 2 * Double(VT) * Double(4 * VC * VC + 2 * VC * VI)
      + Double(VL) * 4 * Double(VT * VT) * Double(VC)
      + 2 * Double(NP * VC * 3 * vc.patchSize * vc.patchSize)
      + 2 * Double(NP) * Double(VC * C + C * C)
  }

  /// Tokens/s of one prefill of `prompt`.
  func prefill() throws -> Double {
    var cache = model.language.makeCache(capacity: prompt.count)
    let start = Clock.now()
    _ = try model.language.forward(tokens: prompt, cache: &cache)
    return Double(prompt.count) / (Clock.now() - start)
  }

  /// Tokens/s of `count` greedy batch-1 decode steps after `shortPrompt` (not timed).
  func decode(_ count: Int) throws -> Double {
    var cache = model.language.makeCache(capacity: shortPrompt.count + count + 1)
    var logits = try model.language.forward(tokens: shortPrompt, cache: &cache)
    let start = Clock.now()
    for _ in 0..<count {
      let next = Int32(LlavaModel.argmax(logits))
      logits = try model.language.forward(tokens: [next], cache: &cache)
    }
    return Double(count) / (Clock.now() - start)
  }

  /// Seconds of one image encode (vision tower + projector).
  func encode() throws -> Double {
    let start = Clock.now()
    let features = try model.vision.features(pixels: pixels)
    _ = model.projector.forward(features: features)
    return Clock.now() - start
  }
}
