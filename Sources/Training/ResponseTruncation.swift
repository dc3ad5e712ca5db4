// Step 2 of a PPO step (research/rlhf-spec.md §3): everything after the first EOS becomes pad, and
// with the paper's "?" rule the response is also cut after a "?" token. As the reference
// (rl_trainer.py `truncate_after_eos_with_padding`): the cut index starts at the first EOS, then
// for each extra stop token *in list order* that occurs, the cut moves to its first occurrence —
// so the last listed token present wins, even over an earlier EOS. The kept part ends with the
// cut token. `hasEOS` is whether EOS is in the kept part, so a response cut at a "?" before its
// EOS loses the EOS and gets the missing-EOS penalty.

/// The kept part of a sampled response: `tokens[..<length]`; the rest of the window is pad.
public struct TruncatedResponse: Sendable, Equatable {
  public let length: Int
  public let hasEOS: Bool

  public init(length: Int, hasEOS: Bool) {
    self.length = length
    self.hasEOS = hasEOS
  }
}

public enum ResponseTruncation {
  /// Truncates `tokens` (the sampled response, without pads) at the first `eos`, or by the "?"
  /// rule when `extraStops` is not empty (see the file comment).
  public static func truncate(
    _ tokens: [Int32],
    eos: Int32,
    extraStops: [Int32] = []
  ) -> TruncatedResponse {
    var end = tokens.firstIndex(of: eos)
    for stop in extraStops {
      if let index = tokens.firstIndex(of: stop) { end = index }
    }
    let length = end.map { $0 + 1 } ?? tokens.count
    return TruncatedResponse(length: length, hasEOS: tokens[..<length].contains(eos))
  }
}
