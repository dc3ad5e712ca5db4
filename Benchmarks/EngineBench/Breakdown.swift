// Per-phase timing. The library's forward passes have no timers, so EngineBench runs a replica
// of `LanguageModel.run` and `VisionTower.forward` here: the same kernels on the same loaded
// weights, in the same order, with a clock read around each kernel call. The replica's total is
// printed next to the real forward's time so a divergence would show.
import BenchSupport
import Checkpoints
import Engine
import Foundation
import Models

final class PhaseTimer {
  private(set) var seconds: [String: Double] = [:]
  private(set) var order: [String] = []

  func time(_ phase: String, _ body: () -> Void) {
    let t0 = Clock.now()
    body()
    let dt = Clock.now() - t0
    if seconds[phase] == nil { order.append(phase) }
    seconds[phase, default: 0] += dt
  }

  var total: Double { seconds.values.reduce(0, +) }

  func scaled(by factor: Double) -> [(String, Double)] {
    order.map { ($0, seconds[$0]! * factor) }
  }
}

/// The decoder replica; keeps its own KV cache so prefill and decode can be timed separately.
final class DecoderReplica {
  let w: LlavaWeights
  let config: LlamaTextConfig
  let capacity: Int
  let scratch = Scratch()
  let keys: UnsafeMutablePointer<Float>
  let values: UnsafeMutablePointer<Float>
  var past = 0

  init(weights: LlavaWeights, capacity: Int) {
    w = weights
    config = weights.config.text
    self.capacity = capacity
    let per = config.numHiddenLayers * capacity * config.numKeyValueHeads * config.headDim
    keys = scratch.make(per)
    values = scratch.make(per)
  }

  func forward(tokens: [Int32], timer: PhaseTimer) {
    let (C, I, NH, NKV, HS, V) = (
      config.hiddenSize, config.intermediateSize, config.numAttentionHeads,
      config.numKeyValueHeads, config.headDim, config.vocabSize
    )
    let T = tokens.count
    let eps = Float(config.rmsNormEps)
    let theta = Float(config.rope.theta)
    let s = Scratch()
    var x = s.make(T * C)
    var y = s.make(T * C)
    let ln = s.make(T * C)
    let rstd = s.make(T)
    let q = s.make(T * NH * HS)
    let k = s.make(T * NKV * HS)
    let v = s.make(T * NKV * HS)
    let attn = s.make(T * NH * HS)
    let gate = s.make(T * I)
    let up = s.make(T * I)
    let act = s.make(T * I)
    let logits = s.make(V)
    let positions = (0..<T).map { Int32(past + $0) }
    let layerStride = capacity * NKV * HS
    timer.time("embedding") {
      tokens.withUnsafeBufferPointer {
        Embedding.forward(
          out: x,
          tokens: $0.baseAddress!,
          table: w.weight(LlavaWeightNames.embedTokens),
          BT: T,
          C: C
        )
      }
    }
    func linear(
      _ out: UnsafeMutablePointer<Float>,
      _ input: UnsafePointer<Float>,
      _ name: String,
      _ N: Int,
      _ K: Int,
      accumulate: Bool = false
    ) {
      Matmul.forward(
        out: out,
        in: input,
        weight: w.weight(name),
        bias: nil,
        M: T,
        N: N,
        K: K,
        accumulate: accumulate
      )
    }
    for l in 0..<config.numHiddenLayers {
      let names = LlavaWeightNames.textLayer(l)
      timer.time("rmsnorm") {
        RMSNorm.forward(
          out: ln,
          rstd: rstd,
          in: x,
          weight: w.vector(names.inputLayerNorm),
          eps: eps,
          BT: T,
          C: C
        )
      }
      timer.time("matmul q,k,v") {
        linear(q, ln, names.qProj, NH * HS, C)
        linear(k, ln, names.kProj, NKV * HS, C)
        linear(v, ln, names.vProj, NKV * HS, C)
      }
      timer.time("rope") {
        positions.withUnsafeBufferPointer {
          RoPE.forward(x: q, positions: $0.baseAddress!, T: T, NH: NH, HS: HS, theta: theta)
          RoPE.forward(x: k, positions: $0.baseAddress!, T: T, NH: NKV, HS: HS, theta: theta)
        }
      }
      let (lk, lv) = (keys + l * layerStride, values + l * layerStride)
      timer.time("copies (kv append, residual)") {
        (lk + past * NKV * HS).update(from: k, count: T * NKV * HS)
        (lv + past * NKV * HS).update(from: v, count: T * NKV * HS)
        y.update(from: x, count: T * C)
      }
      timer.time("attention") {
        CausalAttention.forward(
          out: attn,
          att: nil,
          q: q,
          keys: lk,
          values: lv,
          past: past,
          T: T,
          NH: NH,
          NKV: NKV,
          HS: HS
        )
      }
      timer.time("matmul o") { linear(y, attn, names.oProj, C, NH * HS, accumulate: true) }
      timer.time("rmsnorm") {
        RMSNorm.forward(
          out: ln,
          rstd: rstd,
          in: y,
          weight: w.vector(names.postAttentionLayerNorm),
          eps: eps,
          BT: T,
          C: C
        )
      }
      timer.time("matmul gate,up") {
        linear(gate, ln, names.gateProj, I, C)
        linear(up, ln, names.upProj, I, C)
      }
      timer.time("swiglu") { SwiGLU.forward(out: act, gate: gate, up: up, count: T * I) }
      timer.time("matmul down") { linear(y, act, names.downProj, C, I, accumulate: true) }
      swap(&x, &y)
    }
    timer.time("rmsnorm") {
      RMSNorm.forward(
        out: ln,
        rstd: rstd,
        in: x,
        weight: w.vector(LlavaWeightNames.finalNorm),
        eps: eps,
        BT: T,
        C: C
      )
    }
    timer.time("matmul lm_head") {
      Matmul.forward(
        out: logits,
        in: ln + (T - 1) * C,
        weight: w.weight(LlavaWeightNames.lmHead),
        bias: nil,
        M: 1,
        N: V,
        K: C
      )
    }
    past += T
  }
}

/// The vision-tower replica (up to the selected layer) plus the projector.
enum VisionReplica {
  static func forward(weights w: LlavaWeights, pixels: [Float], timer: PhaseTimer) {
    let config = w.config.vision
    let layers = w.config.visionLayersUsed
    let (C, VI, NH) = (config.hiddenSize, config.intermediateSize, config.numAttentionHeads)
    let (P, side, NP) = (config.patchSize, config.patchesPerSide, config.patchCount)
    let (T, HS, PP, S) = (NP + 1, C / NH, config.numChannels * P * P, config.imageSize)
    let H = w.config.text.hiddenSize
    let eps = Float(config.layerNormEps)
    let s = Scratch()
    let patches = s.make(NP * PP)
    let emb = s.make(T * C)
    var x = s.make(T * C)
    var y = s.make(T * C)
    let ln = s.make(T * C)
    let mean = s.make(T)
    let rstd = s.make(T)
    let q = s.make(T * C)
    let k = s.make(T * C)
    let v = s.make(T * C)
    let attn = s.make(T * C)
    let fc1 = s.make(T * VI)
    let act = s.make(T * VI)
    let p1 = s.make(NP * H)
    let p1a = s.make(NP * H)
    let p2 = s.make(NP * H)
    timer.time("patchify + embeddings") {
      pixels.withUnsafeBufferPointer { px in
        let pixels = px.baseAddress!
        for py in 0..<side {
          for pxi in 0..<side {
            var out = patches + (py * side + pxi) * PP
            for c in 0..<config.numChannels {
              for i in 0..<P {
                out.update(from: pixels + (c * S + py * P + i) * S + pxi * P, count: P)
                out += P
              }
            }
          }
        }
      }
      emb.update(from: w.vector(LlavaWeightNames.classEmbedding), count: C)
      Matmul.forward(
        out: emb + C,
        in: patches,
        weight: w.weight(LlavaWeightNames.patchEmbedding),
        bias: nil,
        M: NP,
        N: C,
        K: PP
      )
      Residual.forward(
        out: emb,
        a: emb,
        b: w.vector(LlavaWeightNames.positionEmbedding),
        count: T * C
      )
    }
    timer.time("layernorm") {
      LayerNorm.forward(
        out: x,
        mean: mean,
        rstd: rstd,
        in: emb,
        weight: w.vector(LlavaWeightNames.preLayerNormWeight),
        bias: w.vector(LlavaWeightNames.preLayerNormBias),
        eps: eps,
        BT: T,
        C: C
      )
    }
    for l in 0..<layers {
      let names = LlavaWeightNames.visionLayer(l)
      func linear(
        _ out: UnsafeMutablePointer<Float>,
        _ input: UnsafePointer<Float>,
        _ name: String,
        _ N: Int,
        _ K: Int,
        accumulate: Bool = false
      ) {
        Matmul.forward(
          out: out,
          in: input,
          weight: w.weight(name),
          bias: w.vector(names.bias(of: name)),
          M: T,
          N: N,
          K: K,
          accumulate: accumulate
        )
      }
      timer.time("layernorm") {
        LayerNorm.forward(
          out: ln,
          mean: mean,
          rstd: rstd,
          in: x,
          weight: w.vector(names.layerNorm1),
          bias: w.vector(names.bias(of: names.layerNorm1)),
          eps: eps,
          BT: T,
          C: C
        )
      }
      timer.time("matmul q,k,v,out") {
        linear(q, ln, names.qProj, C, C)
        linear(k, ln, names.kProj, C, C)
        linear(v, ln, names.vProj, C, C)
      }
      timer.time("attention") {
        BidirectionalAttention.forward(
          out: attn,
          att: nil,
          q: q,
          k: k,
          v: v,
          T: T,
          NH: NH,
          HS: HS,
          precision: w.precision
        )
      }
      timer.time("copies (residual)") { y.update(from: x, count: T * C) }
      timer.time("matmul q,k,v,out") { linear(y, attn, names.outProj, C, C, accumulate: true) }
      timer.time("layernorm") {
        LayerNorm.forward(
          out: ln,
          mean: mean,
          rstd: rstd,
          in: y,
          weight: w.vector(names.layerNorm2),
          bias: w.vector(names.bias(of: names.layerNorm2)),
          eps: eps,
          BT: T,
          C: C
        )
      }
      timer.time("matmul fc1,fc2") { linear(fc1, ln, names.fc1, VI, C) }
      timer.time("gelu") {
        if config.hiddenAct == "gelu" {
          GELU.forward(out: act, in: fc1, count: T * VI)
        } else {
          QuickGELU.forward(out: act, in: fc1, count: T * VI)
        }
      }
      timer.time("matmul fc1,fc2") { linear(y, act, names.fc2, C, VI, accumulate: true) }
      swap(&x, &y)
    }
    timer.time("projector") {
      Matmul.forward(
        out: p1,
        in: x + C,
        weight: w.weight(LlavaWeightNames.projector1Weight),
        bias: w.optionalVector(LlavaWeightNames.projector1Bias),
        M: NP,
        N: H,
        K: C
      )
      GELU.forward(out: p1a, in: p1, count: NP * H)
      Matmul.forward(
        out: p2,
        in: p1a,
        weight: w.weight(LlavaWeightNames.projector2Weight),
        bias: w.optionalVector(LlavaWeightNames.projector2Bias),
        M: NP,
        N: H,
        K: H
      )
    }
  }
}
