import Checkpoints
import Engine
import Models
import Testing

/// `precision: bf16` on a whole model: the bf16 checkpoint's matrices are repacked for
/// `BF16Products`, and the logits stay close to the transformers reference (computed in fp32
/// on the same bf16 weights); the difference is bf16's rounding of the activations.
@Suite(.enabled(if: Fixtures.present && BF16Products.isSupported, "fixtures or AVX512-BF16 absent"))
struct BF16PrecisionTests {
  @Test func matricesArePackedExceptTheEmbedding() throws {
    let weights = try Fixtures.bf16Policy.get()
    #expect(weights.precision == .bf16)
    let config = weights.config
    let matrices = LlavaWeightNames.expected(for: config, head: .languageModel)
      .filter { ($0.shape?.count ?? 0) >= 2 && weights.contains($0.name) }
      .map(\.name)
    #expect(matrices.count > 10)
    for name in matrices {
      let lookedUp = [LlavaWeightNames.embedTokens, LlavaWeightNames.positionEmbedding]
      #expect((weights.weight(name).bf16Panels != nil) == !lookedUp.contains(name), "\(name)")
    }
    #expect(!weights.weight(LlavaWeightNames.lmHead).splitsActivations)
    // fp32 products on the same file: panels with split activations on AMX hosts
    // (`BF16Products.splitsFP32`), else the stored weights as they are.
    let exact = try LlavaWeights(directory: Fixtures.path("layouts/v5-bfloat16"))
    let head = exact.weight(LlavaWeightNames.lmHead)
    #expect((head.bf16Panels != nil) == BF16Products.splitsFP32)
    #expect(head.splitsActivations == BF16Products.splitsFP32)
  }

  /// Every position's logits of the image case: the worst difference from the reference is
  /// bounded by the activations' rounding (~2^-9 relative per product) and most positions keep
  /// the reference's top token; fp32 products on the same file stay at ~1e-5.
  @Test func imageLogitsCloseToTransformers() throws {
    let expected = try Fixtures.floats("layouts.safetensors", "v5-bfloat16.logits")
    let bf16 = try DecoderTests.imageLogits(LlavaModel(weights: try Fixtures.bf16Policy.get()))
    let exact = try DecoderTests.imageLogits(
      LlavaModel(weights: try LlavaWeights(directory: Fixtures.path("layouts/v5-bfloat16")))
    )
    let scale = expected.map(abs).max() ?? 1
    let bf16Delta = maxAbsDiff(bf16, expected)
    let exactDelta = maxAbsDiff(exact, expected)
    let V = try Fixtures.bf16Policy.get().config.text.vocabSize
    let positions = expected.count / V
    let sameTop = (0..<positions).count {
      LlavaModel.argmax(row(bf16, $0, width: V)) == LlavaModel.argmax(row(expected, $0, width: V))
    }
    print(
      "bf16 products: max |Δ| = \(bf16Delta) (logit scale \(scale)); fp32 products \(exactDelta);"
        + " top token kept at \(sameTop)/\(positions) positions"
    )
    #expect(exactDelta <= 1e-4)
    #expect(bf16Delta > exactDelta && bf16Delta <= 0.02 * scale)
    #expect(sameTop * 10 >= positions * 9)
  }
}
