import Engine
import Glibc
import Testing

@Suite struct AdamWTests {
  /// A constant gradient has a closed form: m̂ = g and v̂ = g² at every step, so each step is
  /// θ ← θ(1 − lr·λ) − lr · g / (|g| + ε).
  @Test func constantGradientClosedForm() {
    let optimizer = AdamW(beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1)
    let start = randomFloats(12, seed: 1)
    let gradient = randomFloats(12, seed: 2, scale: 3)
    var parameters = start
    var (m, v) = ([Float](repeating: 0, count: 12), [Float](repeating: 0, count: 12))
    var expected = start.map(Double.init)
    let rates: [Float] = [1e-2, 3e-3, 5e-3, 1e-3, 2e-2]
    for (index, rate) in rates.enumerated() {
      optimizer.update(
        parameters: &parameters,
        gradients: gradient,
        m: &m,
        v: &v,
        count: 12,
        learningRate: rate,
        step: index + 1
      )
      for i in expected.indices {
        let g = Double(gradient[i])
        expected[i] =
          expected[i] * (1 - Double(rate) * 0.1) - Double(rate) * g / (abs(g) + 1e-8)
      }
    }
    expectClose(parameters, expected.map(Float.init), tolerance: 1e-5)
  }

  /// Varying gradients: the fp32 update equals the Double formulas step after step.
  @Test func matchesDoubleReference() {
    let optimizer = AdamW()
    let n = 37
    var fast = (
      randomFloats(n, seed: 3), [Float](repeating: 0, count: n), [Float](repeating: 0, count: n)
    )
    var naive = fast
    for step in 1...6 {
      let g = randomFloats(n, seed: UInt64(10 + step), scale: Float(step))
      optimizer.update(
        parameters: &fast.0,
        gradients: g,
        m: &fast.1,
        v: &fast.2,
        count: n,
        learningRate: 1e-3,
        step: step
      )
      optimizer.updateNaive(
        parameters: &naive.0,
        gradients: g,
        m: &naive.1,
        v: &naive.2,
        count: n,
        learningRate: 1e-3,
        step: step
      )
    }
    expectClose(fast.0, naive.0, tolerance: 1e-6)
    expectClose(fast.1, naive.1, tolerance: 1e-6)
    expectClose(fast.2, naive.2, tolerance: 1e-6)
  }

  /// Split across a pool's threads, the update is bit-identical to one thread's (elementwise).
  @Test func splittingAcrossThreadsChangesNothing() {
    let n = 300_001
    let g = randomFloats(n, seed: 5)
    let start = (
      randomFloats(n, seed: 6), randomFloats(n, seed: 7), randomFloats(n, seed: 8).map(abs)
    )
    var results: [[Float]] = []
    for threads in [1, 2] {
      var (p, m, v) = start
      AdamW().update(
        parameters: &p,
        gradients: g,
        m: &m,
        v: &v,
        count: n,
        learningRate: 1e-3,
        step: 3,
        pool: ThreadPool(threadCount: threads)
      )
      results.append(p + m + v)
    }
    #expect(results[0] == results[1])
  }
}

@Suite struct GradientClippingTests {
  @Test func clipsToMaxNorm() {
    var a: [Float] = [3, 4]
    var b: [Float] = [12]
    let norm = a.withUnsafeMutableBufferPointer { a in
      b.withUnsafeMutableBufferPointer { b in GradientClipping.clip([a, b], maxNorm: 6.5) }
    }
    #expect(norm == 13)
    let c = Float(6.5 / (13 + 1e-6))
    #expect(a == [3 * c, 4 * c] && b == [12 * c])
    expectClose(a + b, [1.5, 2, 6], tolerance: 1e-6)
  }

  @Test func leavesSmallNormsAlone() {
    var a: [Float] = [3, 4, 12]
    let norm = a.withUnsafeMutableBufferPointer { GradientClipping.clip([$0], maxNorm: 20) }
    #expect(norm == 13 && a == [3, 4, 12])
    var nan: [Float] = [1, .nan]
    let bad = nan.withUnsafeMutableBufferPointer { GradientClipping.clip([$0], maxNorm: 1) }
    #expect(bad.isNaN && nan[0] == 1)
  }
}

@Suite struct LearningRateScheduleTests {
  @Test func cosineWithWarmup() {
    let schedule = LearningRateSchedule.cosine(warmupSteps: 10, totalSteps: 110)
    let expected: [(Int, Double)] = [
      (0, 0), (1, 0.1), (5, 0.5), (10, 1), (35, 0.5 * (1 + cos(Double.pi / 4))), (60, 0.5),
      (85, 0.5 * (1 - cos(Double.pi / 4))), (110, 0),
    ]
    for (step, value) in expected {
      #expect(abs(schedule.multiplier(step: step) - value) < 1e-12, "step \(step)")
    }
    #expect(abs(schedule.learningRate(base: 3e-5, step: 60) - 1.5e-5) < 1e-12)
    // No warmup: starts at the full rate.
    #expect(LearningRateSchedule.cosine(warmupSteps: 0, totalSteps: 4).multiplier(step: 0) == 1)
  }

  @Test func constantWithWarmup() {
    let schedule = LearningRateSchedule.constant(warmupSteps: 4)
    #expect(
      [0, 1, 2, 3, 4, 100].map { schedule.multiplier(step: $0) } == [0, 0.25, 0.5, 0.75, 1, 1]
    )
    #expect(LearningRateSchedule.constant(warmupSteps: 0).multiplier(step: 0) == 1)
  }
}

@Suite struct TrainableParametersTests {
  @Test func segmentsStepAndClip() {
    var set = TrainableParameters([("a", [2, 3]), ("b", [4, 2]), ("head", [5])])
    #expect(set.count == 19 && set.segments.map(\.offset) == [0, 6, 14])
    let b = set.segment("b")!
    for i in 0..<8 { set.parameters(b)[i] = Float(i) }
    let view = set.weightView(b)
    #expect(view.shape == [4, 2] && view.element(7) == 7)
    set.gradients.buffer.update(repeating: 2)
    set.scaleGradients(by: 0.5)
    #expect(abs(set.clipGradients(maxNorm: 100) - Float(19).squareRoot()) < 1e-6)
    set.update(AdamW(weightDecay: 0), learningRate: 0.1)
    set.update(AdamW(weightDecay: 0), learningRate: 0.1)
    #expect(set.step == 2)
    // Constant gradient 1: each step moves by lr · 1 / (1 + ε).
    #expect(abs(set.parameters(b)[3] - (3 - 0.2)) < 1e-5)
    set.zeroGradients()
    #expect(set.gradients.buffer.allSatisfy { $0 == 0 })
  }
}

/// Six steps of clip_grad_norm_(1.0) → AdamW at a cosine-with-warmup rate, against torch
/// (`tools/reference/make_optimizer_fixtures.py`): rates, norms, moments and weights.
@Suite struct TorchOptimizerTests {
  @Test func matchesTorch() {
    typealias F = TorchOptimizerFixture
    let schedule = LearningRateSchedule.cosine(warmupSteps: 2, totalSteps: 6)
    let optimizer = AdamW(beta1: 0.9, beta2: 0.95, eps: 1e-6, weightDecay: 0.1)
    var set = TrainableParameters([("p", [F.initial.count])])
    set.parameters.buffer.update(fromContentsOf: F.initial)
    for step in F.gradients.indices {
      #expect(abs(1e-2 * schedule.multiplier(step: step) - F.learningRates[step]) < 1e-15)
      set.zeroGradients()
      set.gradients.buffer.update(fromContentsOf: F.gradients[step])
      let norm = set.clipGradients(maxNorm: 1)
      #expect(abs(norm - F.norms[step]) <= 1e-6 * F.norms[step], "step \(step)")
      set.update(optimizer, learningRate: schedule.learningRate(base: 1e-2, step: step))
      expectClose(set.m.toArray(), F.m[step], tolerance: 1e-6, "m at step \(step)")
      expectClose(set.v.toArray(), F.v[step], tolerance: 1e-6, "v at step \(step)")
      expectClose(set.parameters.toArray(), F.parameters[step], tolerance: 1e-6, "step \(step)")
    }
    #expect(set.step == 6)
  }
}
