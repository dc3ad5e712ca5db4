// The backward's input gradients over transposed split panels (`transposedWeights`, AMX hosts
// with fp32 products over bf16 weights) equal `Matmul.backwardInput`'s: the whole tiny model's
// LoRA gradients agree to fp32 summation order.
import Engine
import Testing

@testable import Models

@Suite(
  .enabled(if: Fixtures.present, "Tests/Fixtures is absent"),
  .enabled(
    if: BF16Products.splitsFP32,
    "fp32 products over bf16 weights run on split panels only on AMX"
  )
)
struct TrainingTransposedTests {
  @Test func transposedPanelsGiveTheSameGradients() throws {
    let weights = try LlavaWeights(
      directory: Fixtures.path("layouts/v5-bfloat16"),
      precision: .fp32
    )
    let tokens = TrainingSupport.tokens(T: 40, imageRows: 0, seed: 3)
    let targets = Array(20..<40)
    var gradients: [[Float]] = []
    for transposed in [false, true] {
      let training = try DecoderTraining(
        weights: weights,
        lora: DecoderLoRASettings(rank: 4),
        transposedWeights: transposed
      )
      #expect((training.transposedByteCount > 0) == transposed)
      let set = try training.makeParameters(seed: 1)
      TrainingSupport.randomize(set, seed: 7)
      let acts = try training.forward(tokens: tokens, parameters: set)
      let head = try training.policyHead(acts, tokens: tokens, targets: targets)
      let dLogProb = TrainingSupport.values(targets.count, scale: 1, seed: 8)
      let dHidden = try training.policyHeadBackward(
        acts,
        head: head,
        dLogProb: dLogProb,
        dEntropy: dLogProb
      )
      training.backward(acts, dHidden: dHidden, parameters: set)
      gradients.append(Array(set.gradients.buffer))
    }
    let largest = gradients[0].map(abs).max() ?? 0
    let relative = maxAbsDiff(gradients[1], gradients[0]) / largest
    print("transposed panels: gradients relative difference \(relative)")
    #expect(largest > 0 && relative < 1e-5)
  }
}
