// The one proto -> native facts mapping (Services) and the one native <-> store mapping
// (StoreMapping), which Score and the Feedback records share.
import API
import ServingTypes
import Store
import StoreMapping
import Testing

@testable import Services

@Suite struct FactsMappingTests {
  @Test func protoFactsBecomeNativeFacts() {
    var proto = Rlhfd_V1_Facts()
    proto.captions = ["a dog", "on grass"]
    proto.choices = ["cat", "dog"]
    proto.correctChoice = 1
    proto.yesNoAnswer = false
    let facts = RewardFacts(proto)
    #expect(facts.captions == ["a dog", "on grass"])
    #expect(facts.choices == ["cat", "dog"])
    #expect(facts.correctChoice == 1)
    #expect(facts.yesNoAnswer == false)
  }

  @Test func unsetAndNegativeFieldsMeanNone() {
    var proto = Rlhfd_V1_Facts()
    #expect(RewardFacts(proto) == RewardFacts())
    proto.correctChoice = -1
    #expect(RewardFacts(proto).correctChoice == nil)
  }

  @Test func nativeAndStoredFactsConvertBothWays() {
    var facts = RewardFacts()
    facts.captions = ["two cups"]
    facts.choices = ["A", "B", "C"]
    facts.correctChoice = 2
    facts.yesNoAnswer = true
    let stored = StoredFacts(facts)
    #expect(stored.captions == facts.captions && stored.choices == facts.choices)
    #expect(stored.correctChoice == 2 && stored.yesNoAnswer == true)
    #expect(RewardFacts(stored) == facts)
    #expect(RewardFacts(StoredFacts()) == RewardFacts())
  }

  @Test func feedbackRecordsTakeTheSameMapping() {
    var proto = Rlhfd_V1_Facts()
    proto.captions = ["a red car"]
    proto.correctChoice = 0
    #expect(FeedbackService.facts(proto) == StoredFacts(RewardFacts(proto)))
    #expect(FeedbackService.facts(proto).correctChoice == 0)
  }
}
