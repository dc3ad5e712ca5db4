import Checkpoints
import Engine
import Models
import Testing

@Suite(.enabled(if: Fixtures.present, "Tests/Fixtures is absent"))
struct VisionTests {
  @Test func loadsEveryWeightAsAView() throws {
    let weights = try Fixtures.policy.get()
    let patch = weights.weight(LlavaWeightNames.patchEmbedding)
    #expect(patch.shape == [32, 3 * 8 * 8])
    #expect(patch.dtype == .f32)
    #expect(weights.weight(LlavaWeightNames.lmHead).shape == [641, 64])
    #expect(weights.vector(LlavaWeightNames.finalNorm)[0].isFinite)
  }

  @Test func hiddenStatesMatchTransformers() throws {
    let tower = VisionTower(weights: try Fixtures.policy.get())
    let states = try tower.hiddenStates(pixels: try Fixtures.pixels())
    let reference = try Fixtures.floats("policy.safetensors", "image.vision_hidden_states")
    let size = 17 * 32
    #expect(states.count == tower.layers + 1)
    for (index, state) in states.enumerated() {
      let expected = Array(reference[index * size..<(index + 1) * size])
      let delta = maxAbsDiff(state, expected)
      print("vision hidden state \(index): max |Δ| = \(delta)")
      #expect(delta <= 1e-4)
    }
    let selected = try tower.features(pixels: try Fixtures.pixels())
    let expected = try Fixtures.floats("policy.safetensors", "image.vision_selected")
    #expect(maxAbsDiff(selected, expected) <= 1e-4)
  }

  @Test func projectorMatchesTransformers() throws {
    let weights = try Fixtures.policy.get()
    let selected = try Fixtures.floats("policy.safetensors", "image.vision_selected")
    let projected = Projector(weights: weights).forward(features: selected)
    let expected = try Fixtures.floats("policy.safetensors", "image.projector_output")
    let delta = maxAbsDiff(projected, expected)
    print("projector: max |Δ| = \(delta)")
    #expect(delta <= 1e-4)
  }

  @Test func rejectsWrongPixelCount() throws {
    let tower = VisionTower(weights: try Fixtures.policy.get())
    #expect(throws: ModelError.pixelCountMismatch(expected: 3072, actual: 5)) {
      try tower.hiddenStates(pixels: [1, 2, 3, 4, 5])
    }
  }
}
