import Testing
import Tokenizer

@Suite struct ChatTemplateTests {
  @Test func defaultIsLLaVA15() {
    let text = ChatTemplate().render(.chat("Hi?"))
    #expect(text == ChatTemplate.llava15SystemPrompt + " USER: <image>\nHi? ASSISTANT:")
    #expect(ChatTemplate.llavaRLHF.systemPrompt.contains("curious user"))
  }

  @Test func multipleImagesAndTextOnly() {
    let template = ChatTemplate(systemPrompt: "S")
    #expect(template.render(.chat("Q", imageCount: 2)) == "S USER: <image>\n<image>\nQ ASSISTANT:")
    #expect(template.render(.chat("Q", imageCount: 0)) == "S USER: Q ASSISTANT:")
    #expect(ChatTemplate(systemPrompt: "").render(.chat("Q")) == "USER: <image>\nQ ASSISTANT:")
    #expect(template.render(.raw("anything <image>")) == "anything <image>")
  }

  /// LLaVA's `get_prompt` for separator style TWO: `</s>` directly followed by `USER:`.
  @Test func historyTurns() {
    let template = ChatTemplate(systemPrompt: "S")
    let text = template.render(
      .chat("Q2", history: [ChatTemplate.Turn(user: "Q1", assistant: "A1")])
    )
    #expect(text == "S USER: <image>\nQ1 ASSISTANT: A1</s>USER: Q2 ASSISTANT:")
  }

  @Test func encodesEOSInHistoryAsTheEOSToken() throws {
    let tokenizer = try SentencePieceTokenizer(
      modelPath: Fixtures.modelPath,
      configuration: .init(legacy: false)
    )
    let template = ChatTemplate(systemPrompt: "S")
    let ids = try template.encode(
      .chat("Q2", history: [ChatTemplate.Turn(user: "Q1", assistant: "A1")]),
      with: tokenizer
    )
    #expect(ids.first == tokenizer.bosID)
    #expect(ids.filter { $0 == tokenizer.eosID }.count == 1)
    #expect(ids.filter { $0 == 640 }.count == 1)
  }
}
