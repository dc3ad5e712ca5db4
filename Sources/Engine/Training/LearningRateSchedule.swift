import Glibc

/// Learning-rate multipliers as transformers' `get_constant_schedule_with_warmup` and
/// `get_cosine_schedule_with_warmup` (a `LambdaLR`): the rate of optimizer step `step`
/// (0-based: the first update uses `step = 0`, so with warmup it runs at rate 0, exactly as
/// in transformers) is `baseRate · multiplier(step)`.
public enum LearningRateSchedule: Sendable, Equatable {
  /// `step / warmup` during warmup, then 1.
  case constant(warmupSteps: Int)
  /// `step / warmup` during warmup, then `max(0, ½ (1 + cos(π · 2·cycles · progress)))` with
  /// `progress = (step − warmup) / (total − warmup)` (transformers' default `cycles = 0.5`
  /// decays to 0 at `total`).
  case cosine(warmupSteps: Int, totalSteps: Int, cycles: Double = 0.5)

  public func multiplier(step: Int) -> Double {
    switch self {
    case .constant(let warmup):
      return step < warmup ? Double(step) / Double(max(1, warmup)) : 1
    case .cosine(let warmup, let total, let cycles):
      if step < warmup { return Double(step) / Double(max(1, warmup)) }
      let progress = Double(step - warmup) / Double(max(1, total - warmup))
      return max(0, 0.5 * (1 + cos(Double.pi * cycles * 2 * progress)))
    }
  }

  public func learningRate(base: Float, step: Int) -> Float {
    Float(Double(base) * multiplier(step: step))
  }
}
