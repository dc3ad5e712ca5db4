// The rollout batch's filling rule: RL prompts first, then preferences' prompts in row order
// after the cursor, never one with the same image and prompt as a guard prompt; the cursor
// moves past every preference looked at; nothing when the batch is not full.
import Store
import Testing

@testable import Trainer

@Suite struct RolloutBatchTests {
  func prompt(_ id: String, _ text: String, image: String = "aa") -> RolloutCandidate {
    RolloutCandidate(
      id: id,
      source: .prompt,
      record: PromptRecord(image: .sha256(image), prompt: text)
    )
  }

  func preference(_ row: Int64, _ text: String, image: String = "aa") -> RolloutCandidate {
    RolloutCandidate(
      id: "pref-\(row)",
      source: .preference(row: row),
      record: PromptRecord(image: .sha256(image), prompt: text)
    )
  }

  @Test func rlPromptsAloneFillTheBatchAndLeaveTheCursor() throws {
    let rl = (0..<5).map { prompt("p\($0)", "Q\($0)?") }
    let filled = try #require(
      RolloutBatch.fill(size: 4, prompts: rl, preferences: [preference(1, "A?")], heldOut: [])
    )
    #expect(filled.batch.map(\.id) == ["p0", "p1", "p2", "p3"])
    #expect(filled.cursor == nil)
  }

  @Test func preferencesFillUpAfterTheRLPromptsInRowOrder() throws {
    let rl = [prompt("p0", "Q?")]
    let prefs = [
      preference(3, "A?"), preference(5, "B?"), preference(9, "C?"), preference(12, "D?"),
    ]
    let filled = try #require(
      RolloutBatch.fill(size: 3, prompts: rl, preferences: prefs, heldOut: [])
    )
    #expect(filled.batch.map(\.id) == ["p0", "pref-3", "pref-5"])
    #expect(filled.cursor == 5)
    // Only preferences.
    let only = try #require(
      RolloutBatch.fill(size: 4, prompts: [], preferences: prefs, heldOut: [])
    )
    #expect(only.batch.map(\.id) == ["pref-3", "pref-5", "pref-9", "pref-12"])
    #expect(only.cursor == 12)
  }

  @Test func theGuardsPromptsArePassedOverAndTheCursorMovesPastThem() throws {
    let guardPrompt = prompt("g", "B?", image: "bb")
    let prefs = [
      preference(1, "A?", image: "bb"), preference(2, "B?", image: "bb"),  // the guard's question
      preference(3, "B?", image: "cc"),  // the same text about another image: a new question
      preference(4, "C?"),
    ]
    let filled = try #require(
      RolloutBatch.fill(size: 3, prompts: [], preferences: prefs, heldOut: [guardPrompt.key])
    )
    #expect(filled.batch.map(\.id) == ["pref-1", "pref-3", "pref-4"])
    #expect(filled.cursor == 4)
    // Passed over at the end of the batch: the cursor is where the last one taken is.
    let two = try #require(
      RolloutBatch.fill(size: 2, prompts: [], preferences: prefs, heldOut: [guardPrompt.key])
    )
    #expect(two.batch.map(\.id) == ["pref-1", "pref-3"] && two.cursor == 3)
  }

  @Test func notEnoughPromptsMakeNoBatch() {
    let rl = [prompt("p0", "Q?")]
    let prefs = [preference(1, "A?"), preference(2, "B?")]
    #expect(RolloutBatch.fill(size: 4, prompts: rl, preferences: prefs, heldOut: []) == nil)
    #expect(RolloutBatch.fill(size: 2, prompts: [], preferences: [], heldOut: []) == nil)
    let guardKey = prefs[1].key
    #expect(RolloutBatch.fill(size: 3, prompts: rl, preferences: prefs, heldOut: [guardKey]) == nil)
  }
}
