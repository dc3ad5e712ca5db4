// The backward's input gradients over transposed panels (`transposedWeights`) against
// `Matmul.backwardInput`'s exact fp32 ones: with split panels (AMX hosts, fp32 products over bf16
// weights) the whole tiny model's LoRA gradients agree to fp32 summation order; with
// `precision: bf16` (dOut rounded to bf16, as the forward's activations) to bf16's rounding.
import Engine
import Testing

@testable import Models

@Suite(.enabled(if: Fixtures.present, "Tests/Fixtures is absent"))
struct TrainingTransposedTests {
  @Test(
    .enabled(
      if: BF16Products.splitsFP32,
      "fp32 products over bf16 weights run on split panels only on AMX"
    )
  )
  func transposedSplitPanelsGiveTheSameGradients() throws {
    let relative = try Self.difference(precision: .fp32)
    #expect(relative < 1e-5)
  }

  @Test(.enabled(if: BF16Products.isSupported, "bf16 products need AVX512-BF16 or AMX"))
  func transposedBF16PanelsGiveGradientsToBF16Rounding() throws {
    let relative = try Self.difference(precision: .bf16)
    #expect(relative < 2e-2)
  }

  /// The largest difference between the LoRA gradients with and without transposed panels,
  /// relative to the largest gradient.
  static func difference(precision: MatmulPrecision) throws -> Double {
    let weights = try LlavaWeights(
      directory: Fixtures.path("layouts/v5-bfloat16"),
      precision: precision
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
    #expect(largest > 0)
    let relative = Double(maxAbsDiff(gradients[1], gradients[0]) / largest)
    print("transposed panels, \(precision) products: gradients relative difference \(relative)")
    return relative
  }
}
