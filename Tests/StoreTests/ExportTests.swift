// Many submissions at once (`rlhfd import`) and reading feedback back (`rlhfd export`): order,
// one failure alone, duplicates, generation responses as their text, paging, images by hash.
import Foundation
import Store
import Testing

@Suite struct ExportTests {
  @Test func batchesKeepOrderAndFailOneAtATime() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    _ = try await store.submitPreference(preference("Earlier?"), idempotencyKey: "k0")
    let results = await store.submitPreferences([
      (preference("First?"), "k1"),
      (preference("Other content, same key"), "k0"),
      (preference("Earlier?"), "k0"),
      (preference("Second?"), "k2"),
    ])
    #expect(results.count == 4)
    #expect(try results[0].get().duplicate == false)
    #expect(throws: StoreError.self) { try results[1].get() }
    if case .failure(let error) = results[1] { #expect(error.code == .conflict) }
    #expect(try results[2].get().duplicate)
    #expect(try results[3].get().duplicate == false)
    var prompts: [String] = []
    try store.forEachPreference(pageSize: 1) { prompts.append($0.record.prompt) }
    #expect(prompts == ["Earlier?", "First?", "Second?"])
    let batches = await store.submitPromptBatches([
      ([PromptRecord(image: png, prompt: "A?")], "p1"),
      ([PromptRecord(image: .sha256(String(repeating: "0", count: 64)), prompt: "B?")], "p2"),
    ])
    #expect(try batches[0].get().ids.count == 1)
    if case .failure(let error) = batches[1] {
      #expect(error.code == .notFound)
    } else {
      Issue.record("an unknown image hash was accepted")
    }
  }

  @Test func readsBackRecordsGenerationTextsAndImages() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    store.record(generation("g1"))
    _ = try await waitForGeneration(store, "g1")
    var pref = preference()
    pref.response2 = .generation("g1")
    pref.preferred = 2
    let ack = try await store.submitPreference(pref, idempotencyKey: "")
    var prompt = PromptRecord(image: png, prompt: "How many?")
    var facts = StoredFacts()
    facts.choices = ["one", "two"]
    facts.correctChoice = 1
    prompt.facts = facts
    prompt.lengthBonus = 0.25
    prompt.clientID = "rl-7"
    _ = try await store.submitPrompts(
      [prompt, PromptRecord(image: png, prompt: "Why?")],
      idempotencyKey: ""
    )
    _ = try await store.markConsumed(.preference, ids: ack.ids)

    var preferences: [StoredPreference] = []
    try store.forEachPreference { preferences.append($0) }
    #expect(preferences.count == 1)
    let stored = try #require(preferences.first)
    #expect(stored.id == ack.ids[0] && stored.consumed)
    #expect(stored.record.response2 == .generation("g1") && stored.text2 == "A cat")
    #expect(stored.text1 == "A cat." && stored.record.facts == pref.facts)
    #expect(stored.record.image == .sha256(png.sha256))
    var prompts: [StoredPrompt] = []
    try store.forEachPrompt(pageSize: 1) { prompts.append($0) }
    #expect(prompts.map(\.record.prompt) == ["How many?", "Why?"])
    #expect(prompts[0].record.facts == facts && prompts[0].record.clientID == "rl-7")
    #expect(prompts[0].record.lengthBonus == 0.25 && !prompts[0].consumed)
    #expect(prompts[1].record.facts == nil)
    if case .bytes(_, let bytes) = png { #expect(try store.image(sha256: png.sha256) == bytes) }
    #expect(try store.image(sha256: "unknown") == nil)
  }
}
