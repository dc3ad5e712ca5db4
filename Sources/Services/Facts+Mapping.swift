// rlhfd.v1.Facts to the native facts: the one mapping, used by Score and by Feedback (whose
// records take the store's form of it through `StoreMapping`).
import API
import ServingTypes

extension RewardFacts {
  /// The facts of a request; a negative `correct_choice` means none.
  init(_ f: Rlhfd_V1_Facts) {
    self.init()
    captions = f.captions
    choices = f.choices
    if f.hasCorrectChoice && f.correctChoice >= 0 { correctChoice = Int(f.correctChoice) }
    if f.hasYesNoAnswer { yesNoAnswer = f.yesNoAnswer }
  }
}
