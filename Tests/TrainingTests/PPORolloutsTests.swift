import Testing
import Training

private typealias Fx = TorchPPOMathFixture

@Test func preparedRolloutsAreThePapersSteps() {
  var s = PPOSettings.paper
  s.responseLength = Fx.window
  let prepared = PPORollouts.prepare(
    RolloutBatch(
      window: Fx.window,
      lengths: Fx.lengths,
      logProbs: Fx.oldLogProbs,
      referenceLogProbs: Fx.referenceLogProbs,
      values: Fx.oldValues,
      scores: Fx.scores
    ),
    settings: s
  )
  #expect(relativeError(prepared.kl, Fx.Paper.kl) < 1e-12)
  #expect(relativeError(prepared.shapedRewards, Fx.Paper.shaped) < 1e-12)
  #expect(relativeError(prepared.advantages, Fx.Paper.advantages) < 1e-12)
  #expect(relativeError(prepared.returns, Fx.Paper.returns) < 1e-12)
  let mean = Fx.scores.reduce(0, +) / Double(Fx.rows)
  #expect(abs(prepared.statistics.rewardMean - mean) < 1e-12)
  #expect(abs(prepared.statistics.kl - Fx.Paper.kl.reduce(0, +) / Double(Fx.rows)) < 1e-12)
}

@Test func minibatchesAreSeededPermutationsPerEpoch() {
  // 10 rows, minibatches of 4, 2 epochs: 2 minibatches per epoch (2 rows dropped each epoch).
  let batches = PPORollouts.minibatches(rows: 10, stepBatchSize: 4, epochs: 2, seed: 42, step: 3)
  #expect(batches.count == 4 && batches.allSatisfy { $0.count == 4 })
  #expect(Set(batches[0] + batches[1]).count == 8 && Set(batches[2] + batches[3]).count == 8)
  #expect(
    batches == PPORollouts.minibatches(rows: 10, stepBatchSize: 4, epochs: 2, seed: 42, step: 3)
  )
  #expect(
    batches != PPORollouts.minibatches(rows: 10, stepBatchSize: 4, epochs: 2, seed: 42, step: 4)
  )
  // The paper's shape: 512 rollouts, 256 per step, 2 epochs → 4 optimizer steps, each epoch all rows.
  let paper = PPORollouts.minibatches(rows: 512, stepBatchSize: 256, epochs: 2, seed: 1, step: 0)
  #expect(paper.count == 4)
  #expect((paper[0] + paper[1]).sorted() == Array(0..<512))
  #expect((paper[2] + paper[3]).sorted() == Array(0..<512))
  #expect(paper[0] + paper[1] != paper[2] + paper[3])
}
