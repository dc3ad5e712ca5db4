import Foundation
import Testing

@testable import Tokenizer

/// Every case of `Tests/Fixtures/tokenizer/reference.json` (sentencepiece and transformers output).
@Suite struct ReferenceTests {
  static let reference = Fixtures.reference
  static let tokenizer: SentencePieceTokenizer = {
    do {
      return try SentencePieceTokenizer(
        modelPath: Fixtures.modelPath,
        configuration: .init(legacy: false)
      )
    } catch { fatalError("\(error)") }
  }()
  static let legacyTokenizer: SentencePieceTokenizer = {
    do {
      return try SentencePieceTokenizer(modelPath: Fixtures.modelPath)
    } catch { fatalError("\(error)") }
  }()

  @Test func specialTokens() {
    let special = Self.reference.special
    let tokenizer = Self.tokenizer
    #expect(tokenizer.sentencePieceVocabSize == special.vocab_size)
    #expect(tokenizer.vocabSize == special.vocab_size + 1)
    #expect(tokenizer.bosID == special.bos)
    #expect(tokenizer.eosID == special.eos)
    #expect(tokenizer.unkID == special.unk)
    #expect(tokenizer.padID == nil)
    #expect(tokenizer.addedTokenID(special.image_token) == special.image_token_id)
    #expect(tokenizer.piece(for: special.image_token_id) == "<image>")
    #expect(tokenizer.id(forPiece: "<image>") == special.image_token_id)
    #expect(tokenizer.id(forPiece: "\u{2581}H") == 424)
    #expect(tokenizer.id(forPiece: "no such piece") == nil)
    #expect(tokenizer.piece(for: 3) == "<0x00>")
  }

  @Test(arguments: reference.encode.indices)
  func encodeMatchesSentencePiece(index: Int) throws {
    let sample = Self.reference.encode[index]
    let tokenizer = Self.tokenizer
    let ids = try tokenizer.encodeWithSentencePiece(sample.text)
    #expect(ids == sample.ids, "\(sample.text.debugDescription)")
    #expect(ids.map { tokenizer.piece(for: $0) } == sample.pieces)
    #expect(try tokenizer.decode(ids) == sample.decoded)
  }

  @Test(arguments: reference.encode.indices)
  func encodeMatchesTransformers(index: Int) throws {
    let sample = Self.reference.encode[index]
    guard !sample.text.contains("<image>") else { return }  // hf cases exclude `<image>` text
    let ids = try Self.tokenizer.encode(sample.text, addBOS: false)
    #expect(ids == sample.hf_ids ?? sample.ids, "\(sample.text.debugDescription)")
  }

  @Test(arguments: reference.decode.indices)
  func decode(index: Int) throws {
    let sample = Self.reference.decode[index]
    #expect(try Self.tokenizer.decode(sample.ids) == sample.text)
  }

  @Test(arguments: reference.chat.indices)
  func chat(index: Int) throws {
    let sample = Self.reference.chat[index]
    let template = ChatTemplate(systemPrompt: sample.system)
    let rendered = template.render(.chat(sample.prompt, imageCount: sample.image ? 1 : 0))
    #expect(rendered == sample.rendered)
    let ids = try template.encode(
      .chat(sample.prompt, imageCount: sample.image ? 1 : 0),
      with: Self.tokenizer
    )
    #expect(ids == sample.ids)
    #expect(ids.map { Self.tokenizer.piece(for: $0) } == sample.pieces)
    #expect(try Self.legacyTokenizer.encode(sample.rendered) == sample.ids_legacy_true)
    #expect(try Self.legacyTokenizer.encode(sample.rendered) == sample.ids_llava_original)
    #expect(try template.encode(.raw(sample.rendered), with: Self.tokenizer) == sample.ids)
  }

  @Test(arguments: reference.incremental.indices)
  func incrementalPrefixes(index: Int) throws {
    let sample = Self.reference.incremental[index]
    var decoder = Self.tokenizer.makeIncrementalDecoder()
    var emitted = ""
    for (id, prefix) in zip(sample.ids, sample.prefixes) {
      emitted += decoder.push(id)
      #expect(emitted == prefix.complete_utf8_text, "after \(prefix.n) tokens")
      #expect(decoder.hasPendingBytes == (prefix.pending_bytes > 0))
    }
    emitted += decoder.finish()
    #expect(emitted == sample.text)
    #expect(try Self.tokenizer.decode(sample.ids) == sample.text)
  }

  /// The fixture's llava-hf `tokenizer_config.json` gives the same tokenizer.
  @Test func configurationFromTokenizerConfig() throws {
    let url = Fixtures.directory.appendingPathComponent("tokenizer_config.json")
    let configuration = try JSONDecoder().decode(
      SentencePieceTokenizer.Configuration.self,
      from: Data(contentsOf: url)
    )
    #expect(configuration.legacy == false)
    #expect(configuration.addedTokens.map(\.id) == [0, 1, 2, 640])
    let tokenizer = try SentencePieceTokenizer(
      modelPath: Fixtures.modelPath,
      configuration: configuration
    )
    for sample in Self.reference.chat {
      #expect(try tokenizer.encode(sample.rendered) == sample.ids)
    }
  }

  @Test func systemPromptsMatchTheReference() {
    #expect(ChatTemplate.llava15.systemPrompt == ChatTemplate.llava15SystemPrompt)
    let systems = Set(Self.reference.chat.map(\.system))
    #expect(systems.contains(ChatTemplate.vicunaV1SystemPrompt))
    #expect(systems.contains(ChatTemplate.llava15SystemPrompt))
  }
}
