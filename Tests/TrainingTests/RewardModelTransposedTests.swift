// A reward-model step over transposed split panels (`transposedWeights`, AMX hosts with fp32
// products over bf16 weights) is the step without them: the same loss, gradient norm and
// updated LoRA and head, to fp32 summation order.
import Engine
import Models
import Testing
import Training

@Suite(
  .enabled(if: TrainingFixtures.present, "Tests/Fixtures is absent"),
  .enabled(
    if: BF16Products.splitsFP32,
    "fp32 products over bf16 weights run on split panels only on AMX"
  )
)
struct RewardModelTransposedTests {
  @Test func aStepOverTransposedPanelsIsTheSameStep() throws {
    let weights = try LlavaWeights(
      directory: TrainingFixtures.path("layouts/v5-bfloat16"),
      precision: .fp32
    )
    var settings = RewardModelTrainingSettings.small
    settings.batchSize = 4
    settings.microBatchSize = 2
    settings.optimizer.warmupSteps = 0
    settings.optimizer.learningRate = 1e-3
    let batch = RewardModelUpdateRunTests.toyPairs(4, seed: 6)
    var results: [RewardModelStepResult] = []
    var values: [[Float]] = []
    for transposed in [false, true] {
      var update = try RewardModelUpdate(
        weights: weights,
        settings: settings,
        seed: 9,
        head: .zero(bias: false),
        transposedWeights: transposed
      )
      #expect((update.training.transposedByteCount > 0) == transposed)
      // Two steps: the second's gradients flow through the first's nonzero LoRA B.
      _ = try update.step(batch)
      results.append(try update.step(batch))
      values.append(update.snapshot())
    }
    #expect(abs(results[0].loss - results[1].loss) <= 1e-5 * max(1, abs(results[0].loss)))
    #expect(results[0].gradNorm > 0)
    #expect(abs(results[0].gradNorm - results[1].gradNorm) <= 1e-4 * results[0].gradNorm)
    let difference = relativeDifference(values[0], values[1])
    print("reward-model step over transposed panels: relative difference \(difference)")
    #expect(difference <= 1e-5)
  }
}
