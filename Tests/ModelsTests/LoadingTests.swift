import Checkpoints
import Engine
import Foundation
import Testing

@testable import Models

@Suite(.enabled(if: Fixtures.present, "Tests/Fixtures is absent"))
struct LoadingTests {
  /// The policy's weights from a copy of its file whose data section starts at an odd offset
  /// (one more space of header padding), so every tensor is misaligned for its dtype.
  static func misalignedPolicy() throws -> LlavaWeights {
    let directory = Fixtures.path("tiny-llava-policy")
    let original = try [UInt8](
      Data(contentsOf: URL(fileURLWithPath: directory + "/model.safetensors"))
    )
    var length = 0
    for i in 0..<8 { length |= Int(original[i]) << (8 * i) }
    var bytes = (0..<8).map { UInt8(truncatingIfNeeded: (length + 1) >> (8 * $0)) }
    bytes += original[8..<(8 + length)] + [UInt8(ascii: " ")] + original[(8 + length)...]
    let file = try SafeTensorsFile(contents: bytes, name: "misaligned.safetensors")
    let checkpoint = try LlavaCheckpoint(
      config: LlavaConfig.load(directory: directory),
      weights: SafeTensorsCheckpoint(file: file),
      head: .languageModel,
      source: "misaligned"
    )
    return try LlavaWeights(checkpoint: checkpoint)
  }

  @Test func misalignedTensorsAreCopiedAndGiveTheSameLogits() throws {
    let aligned = LlavaModel(weights: try Fixtures.policy.get())
    let misaligned = LlavaModel(weights: try Self.misalignedPolicy())
    let view = misaligned.weights.weight(LlavaWeightNames.lmHead)
    #expect(UInt(bitPattern: view.base) % 64 == 0)
    let a = try DecoderTests.imageLogits(aligned)
    let b = try DecoderTests.imageLogits(misaligned)
    #expect(a == b)
  }

  @Test func keepingEveryLayerGivesTheSameResult() throws {
    let model = LlavaModel(weights: try Fixtures.policy.get())
    let tokens = try DecoderTests.inputIds("text")
    var first = model.language.makeCache()
    var second = model.language.makeCache()
    let inference = try model.language.run(tokens: tokens, imageEmbeddings: nil, cache: &first)
    let training = try model.language.run(
      tokens: tokens,
      imageEmbeddings: nil,
      cache: &second,
      keepAllLayers: true
    )
    let count = tokens.count * 64
    #expect(
      Array(UnsafeBufferPointer(start: inference.lnf, count: count))
        == Array(UnsafeBufferPointer(start: training.lnf, count: count))
    )
    // Every layer's buffers stay addressable: layer 0's q differs from layer 1's.
    #expect(training.layer(0).q != training.layer(1).q)
    #expect(inference.layer(0).q == inference.layer(1).q)
  }

  @Test func rejectsAnUnusableCheckpoint() throws {
    #expect(throws: ModelError.self) {
      try LlavaWeights(directory: Fixtures.path("tiny-llava-policy"), head: .reward)
    }
  }
}
