// Reward-model loss by hand, preference pairs from ratings, the held-out split, the caption shuffle.
import Serving
import Testing
import Training

@Test func rewardModelLossByHand() {
  // One tied pair, second preferred: z = 0, BCE = ln 2, σ(0) − 1 = −0.5; centring |0| = 0;
  // a tie predicts "second", so accuracy 1.
  let tie = RewardModelLoss.loss(first: [0.0], second: [0.0], secondPreferred: [true])
  #expect(abs(tie.loss - Double.log(2)) < 1e-12)
  #expect(tie.dSecond == [-0.5] && tie.dFirst == [0.5] && tie.accuracy == 1)
  // r₁ = [1, 0], r₂ = [3, 1], y = [1, 0]: z = [2, 1];
  // BCE = ln(1 + e⁻²) = 0.1269280110, 1 + ln(1 + e⁻¹) = 1.3132616875 → mean 0.7200948493;
  // centring 1e-3·|(4 + 1)/2| = 0.0025 → 0.7225948493. Accuracy: z₁ ≥ 0 = y₁, z₂ ≥ 0 ≠ y₂ → ½.
  // ∂/∂r₂[0] = (σ(2) − 1)/2 + 1e-3/2 = (0.8807970780 − 1)/2 + 0.0005 = −0.0591014610.
  let r = RewardModelLoss.loss(first: [1.0, 0], second: [3.0, 1], secondPreferred: [true, false])
  #expect(abs(r.loss - 0.7225948493) < 1e-9)
  #expect(r.accuracy == 0.5)
  #expect(abs(r.dSecond[0] - -0.0591014610) < 1e-9)
  #expect(abs(r.dFirst[0] - (0.0596014610 + 0.0005)) < 1e-9)
  #expect(
    RewardModelLoss.accuracy(first: [1.0, 0], second: [3.0, 1], secondPreferred: [true, false])
      == 0.5
  )
}

@Test func pairsFromRatings() {
  // Prompt p1 has g1 0.5, g2 −0.5, g3 0.5, g5 0 (in this order); p2 one generation (no pair).
  // Pairs i < j with different scores: (g1,g2) first better; (g1,g3) tie skipped; (g1,g5) first
  // better; (g2,g3) second better; (g2,g5) second better; (g3,g5) first better.
  let ratings = [
    RatedGeneration(promptID: "p1", generationID: "g1", score: 0.5),
    RatedGeneration(promptID: "p2", generationID: "g4", score: 1),
    RatedGeneration(promptID: "p1", generationID: "g2", score: -0.5),
    RatedGeneration(promptID: "p1", generationID: "g3", score: 0.5),
    RatedGeneration(promptID: "p1", generationID: "g5", score: 0),
  ]
  let pairs = PreferencePairs.fromRatings(ratings)
  #expect(
    pairs.map { "\($0.first)-\($0.second)-\($0.secondPreferred)" } == [
      "g1-g2-false", "g1-g5-false", "g2-g3-true", "g2-g5-true", "g3-g5-false",
    ]
  )
  #expect(pairs.allSatisfy { $0.promptID == "p1" })
  // A generation rated again: the last rating counts (g2 now ties g1 and g3).
  let again = PreferencePairs.fromRatings(
    ratings + [RatedGeneration(promptID: "p1", generationID: "g2", score: 0.5)]
  )
  #expect(again.map { "\($0.first)-\($0.second)" } == ["g1-g5", "g2-g5", "g3-g5"])
}

@Test func heldOutSplitIsByPromptSeededAndStable() {
  let split = HeldOutSplit(seed: 42, fraction: 0.2)
  let prompts = (0..<2000).map { "prompt-\($0)" }
  let held = prompts.filter { split.isHeldOut(promptID: $0) }
  #expect(held.count > 330 && held.count < 470)  // 400 ± 3.5σ
  // Same seed, same split; another seed, another split.
  #expect(held == prompts.filter { HeldOutSplit(seed: 42, fraction: 0.2).isHeldOut(promptID: $0) })
  #expect(held != prompts.filter { HeldOutSplit(seed: 7, fraction: 0.2).isHeldOut(promptID: $0) })
  // Pairs of one prompt all land on one side.
  let pairs = prompts.prefix(200).flatMap { p in
    (0..<3).map {
      PreferencePair(promptID: p, first: "\(p)a\($0)", second: "\(p)b", secondPreferred: true)
    }
  }
  let (train, heldOut) = split.split(pairs) { $0.promptID }
  #expect(train.count + heldOut.count == pairs.count && !heldOut.isEmpty)
  #expect(Set(train.map(\.promptID)).isDisjoint(with: heldOut.map(\.promptID)))
}

@Test func captionsShuffledPerExampleWithASeed() {
  let captions = (1...6).map { "caption \($0)" }
  let a = FactualPrompt.shuffledCaptions(captions, seed: 1, example: "pair-1")
  #expect(a.sorted() == captions.sorted())
  #expect(a == FactualPrompt.shuffledCaptions(captions, seed: 1, example: "pair-1"))
  let orders = Set(
    (0..<20).map { FactualPrompt.shuffledCaptions(captions, seed: 1, example: "pair-\($0)") }
  )
  #expect(orders.count > 10)
  #expect(FactualPrompt.shuffledCaptions([], seed: 1, example: "x") == [])
  let prompt = FactualPrompt.evaluationPrompt(captions: captions, seed: 1, example: "pair-1")
  #expect(prompt == RewardRunner.evaluationPrompt(captions: a))
  #expect(prompt.contains(a.map { "  - \($0)\n" }.joined()))
}
