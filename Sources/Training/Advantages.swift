// Step 8 of a PPO step (research/rlhf-spec.md §3; ppo_trainer.py `_estimate_advantage`, `whiten`):
//
//   r ← whiten(s, keep mean)  if whiten_rewards,  else  r ← rewardScale · s   (the paper: ×10)
//   δ_t = r_t + γ·V_{t+1} − V_t        (V_T = 0: nothing after the window)
//   A_t = δ_t + γλ·A_{t+1}             (GAE, backwards over the window)
//   returns = A + V                     (before whitening)
//   A ← whiten(A)                       over the whole rollout batch
//
// whiten(x) = (x − mean) / (std + ε), population std (unbiased=False), ε = 1e-8; with the mean
// kept, + mean. In the paper's `.padded` window the statistics run over every slot of every row,
// no padding mask; in `.tokens` over response tokens only, with r and V set to 0 at pad slots
// before GAE and A, returns 0 there after (TRL's masking).

public enum Advantages {
  /// (x − mean) / (std + ε) [+ mean], statistics over the positions where `mask` is true (all
  /// when nil); positions outside the mask are returned as 0.
  public static func whiten<T: TrainingScalar>(
    _ x: [T],
    mask: [Bool]? = nil,
    shiftMean: Bool = true,
    epsilon: T = T(1e-8)
  ) -> [T] {
    precondition(mask == nil || mask!.count == x.count)
    var count: T = 0
    var sum: T = 0
    for i in x.indices where mask?[i] ?? true {
      count += 1
      sum += x[i]
    }
    guard count > 0 else { return [T](repeating: 0, count: x.count) }
    let mean = sum / count
    var squares: T = 0
    for i in x.indices where mask?[i] ?? true { squares += (x[i] - mean) * (x[i] - mean) }
    let std = (squares / count).squareRoot()
    return x.indices.map { i in
      guard mask?[i] ?? true else { return 0 }
      let white = (x[i] - mean) / (std + epsilon)
      return shiftMean ? white : white + mean
    }
  }

  /// GAE per row over the window: advantages and returns = advantages + values (rows × window).
  public static func gae<T: TrainingScalar>(
    rewards: [T],  // (rows, window)
    values: [T],  // (rows, window)
    window: Int,
    gamma: T,
    lambda: T
  ) -> (advantages: [T], returns: [T]) {
    precondition(rewards.count == values.count && window > 0 && rewards.count % window == 0)
    var advantages = [T](repeating: 0, count: rewards.count)
    for row in 0..<(rewards.count / window) {
      let base = row * window
      var last: T = 0
      for t in stride(from: window - 1, through: 0, by: -1) {
        let next = t < window - 1 ? values[base + t + 1] : 0
        let delta = rewards[base + t] + gamma * next - values[base + t]
        last = delta + gamma * lambda * last
        advantages[base + t] = last
      }
    }
    return (advantages, zip(advantages, values).map { $0 + $1 })
  }

  /// The token mask (rows × window) of right-padded responses of `lengths`.
  public static func tokenMask(lengths: [Int], window: Int) -> [Bool] {
    lengths.flatMap { length in (0..<window).map { $0 < length } }
  }

  /// The whole of the paper's advantage estimation over one rollout batch (see the file comment):
  /// whitened advantages and (unwhitened) returns, rows × window.
  public static func estimate<T: TrainingScalar>(
    shapedRewards: [T],  // (rows, window)
    values: [T],  // (rows, window) value-model outputs at rollout time
    lengths: [Int],  // (rows)
    window: Int,
    settings: PPOSettings
  ) -> (advantages: [T], returns: [T]) {
    precondition(
      shapedRewards.count == lengths.count * window && values.count == shapedRewards.count
    )
    let mask: [Bool]? =
      settings.window == .tokens ? tokenMask(lengths: lengths, window: window) : nil
    let epsilon = T(settings.whiteningEpsilon)
    var rewards =
      settings.whitenRewards
      ? whiten(shapedRewards, mask: mask, shiftMean: false, epsilon: epsilon)
      : shapedRewards.map { $0 * T(settings.rewardScale) }
    var v = values
    if let mask {
      for i in mask.indices where !mask[i] {
        rewards[i] = 0
        v[i] = 0
      }
    }
    var (advantages, returns) = gae(
      rewards: rewards,
      values: v,
      window: window,
      gamma: T(settings.gamma),
      lambda: T(settings.lambda)
    )
    advantages = whiten(advantages, mask: mask, shiftMean: true, epsilon: epsilon)
    if let mask {
      for i in mask.indices where !mask[i] { returns[i] = 0 }
    }
    return (advantages, returns)
  }
}
