// LoRA training of the decoder (issue 13): forward, policy head (log-probs + entropy over the
// last half of the sequence) and backward into the LoRA gradients, r = 64 on the 7 targets, fp32,
// one sequence of `tokens` text tokens; the seconds per 1k tokens of each part (medians over the
// rounds). `--training [--training-tokens N] [--training-tiny DIR] [--training-recompute]
// [--training-transposed]`; `--model DIR` as elsewhere.
import BenchSupport
import Checkpoints
import Engine
import Foundation
import Models

enum TrainingBench {
  static func run(
    weights: LlavaWeights,
    tokens T: Int,
    rank: Int,
    rounds: Int,
    keepAttention: Bool,
    transposed: Bool
  ) throws -> [String: Any] {
    let text = weights.config.text
    let training = try DecoderTraining(
      weights: weights,
      lora: DecoderLoRASettings(rank: rank, alpha: Double(rank) / 4),
      keepAttention: keepAttention,
      transposedWeights: transposed
    )
    let set = try training.makeParameters(seed: 1)
    // B random too, so that the adapter is not the identity.
    for (_, _, s) in training.trainables.adapted {
      let b = set.parameters(s.b)
      for i in 0..<s.b.count { b[i] = Float((i * 7919) % 1000) * 1e-5 - 5e-3 }
    }
    var generator = SystemRandomNumberGenerator()
    let vocabulary = Int32(min(text.vocabSize, weights.config.imageTokenIndex))  // text tokens
    let tokens = (0..<T).map { _ in Int32.random(in: 3..<vocabulary, using: &generator) }
    let targets = Array((T / 2)..<T)
    let dLogProb = [Float](repeating: -1 / Float(targets.count), count: targets.count)
    let dEntropy = [Float](repeating: 0.01 / Float(targets.count), count: targets.count)
    var (forward, head, backward) = ([Double](), [Double](), [Double]())
    var floats = 0
    for _ in 0..<rounds {
      set.zeroGradients()
      let t0 = Clock.now()
      let acts = try training.forward(tokens: tokens, parameters: set)
      let t1 = Clock.now()
      let out = try training.policyHead(acts, tokens: tokens, targets: targets)
      let dHidden = try training.policyHeadBackward(
        acts,
        head: out,
        dLogProb: dLogProb,
        dEntropy: dEntropy
      )
      let t2 = Clock.now()
      training.backward(acts, dHidden: dHidden, parameters: set)
      let t3 = Clock.now()
      floats = acts.floatCount
      forward.append(t1 - t0)
      head.append(t2 - t1)
      backward.append(t3 - t2)
    }
    func perK(_ seconds: [Double]) -> Double {
      seconds.sorted()[seconds.count / 2] * 1000 / Double(T)
    }
    let total = perK(zip(zip(forward, head), backward).map { $0.0 + $0.1 + $1 })
    print(
      "TRAIN   \(text.numHiddenLayers) layers, C \(text.hiddenSize), I \(text.intermediateSize), V \(text.vocabSize), T \(T), r \(rank) on 7 targets (\(set.count) trainable), att \(keepAttention ? "kept" : "recomputed"), transposed panels \(gb(training.transposedByteCount)), activations \(gb(floats * 4)): per 1k tokens forward \(fmt(perK(forward), 3)) s, heads \(fmt(perK(head), 3)) s, backward \(fmt(perK(backward), 3)) s, total \(fmt(total, 3)) s (median of \(rounds))"
    )
    return [
      "layers": text.numHiddenLayers, "tokens": T, "rank": rank, "keep_attention": keepAttention,
      "transposed_bytes": training.transposedByteCount,
      "forward_s_per_1k": perK(forward), "heads_s_per_1k": perK(head),
      "backward_s_per_1k": perK(backward), "total_s_per_1k": total,
    ]
  }
}
