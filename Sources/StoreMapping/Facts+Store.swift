// The native facts (ServingTypes' `RewardFacts`) and the store's (`StoredFacts`: Store imports
// nothing of ours, so it keeps its own Codable copy) are the same four fields; this is the one
// place that converts between them, for the services that store feedback and for the trainer
// that reads it back.
public import ServingTypes
public import Store

extension StoredFacts {
  public init(_ facts: RewardFacts) {
    self.init()
    captions = facts.captions
    choices = facts.choices
    correctChoice = facts.correctChoice
    yesNoAnswer = facts.yesNoAnswer
  }
}

extension RewardFacts {
  public init(_ stored: StoredFacts) {
    self.init()
    captions = stored.captions
    choices = stored.choices
    correctChoice = stored.correctChoice
    yesNoAnswer = stored.yesNoAnswer
  }
}
