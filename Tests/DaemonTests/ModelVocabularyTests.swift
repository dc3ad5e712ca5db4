// The one vocabulary check (Serving's ModelVocabulary): request token ids against a model's
// embedding, and a tokenizer against a model's config at load.
import ServingTypes
import Testing
import Tokenizer

@testable import Serving

@Suite struct ModelVocabularyTests {
  let vocabulary = ModelVocabulary(size: 641, imageTokenId: 640, model: "policy model")

  @Test func idsInsideTheEmbeddingPass() throws {
    #expect(vocabulary.firstOutOfRange([0, 1, 2, 639]) == nil)
    #expect(vocabulary.firstOutOfRange([]) == nil)
    try vocabulary.check([1, 5, 639], field: "the prompt")
  }

  @Test func theImagePlaceholderPassesEvenBeyondTheEmbedding() throws {
    let beyond = ModelVocabulary(size: 600, imageTokenId: 32_000, model: "reward model")
    #expect(beyond.firstOutOfRange([1, 32_000, 32_000, 2]) == nil)
    #expect(beyond.firstOutOfRange([1, 32_001]) == 32_001)
  }

  @Test func negativeAndTooLargeIdsAreRefused() {
    #expect(vocabulary.firstOutOfRange([1, -1, 700]) == -1)
    #expect(vocabulary.firstOutOfRange([1, 641, -1]) == 641)
    #expect(vocabulary.firstOutOfRange([Int32.max]) == Int32.max)
  }

  @Test func theErrorNamesTheFieldTheIdAndTheModel() {
    #expect {
      try vocabulary.check([1, 641], field: "responses[2]")
    } throws: { error in
      guard let error = error as? BackendError else { return false }
      return error.code == .invalidArgument
        && error.message
          == "responses[2] has token id 641, outside the policy model's vocabulary of 641"
    }
  }

  static let tokenizer: SentencePieceTokenizer = {
    do {
      return try ModelAssets.tokenizer(directory: RunnerFixtures.root + "/tiny-llava-policy")
    } catch {
      fatalError("cannot load the fixture tokenizer: \(error)")
    }
  }()

  @Test func theFixtureTokenizerAgreesWithItsConfig() throws {
    #expect(Self.tokenizer.vocabSize == 641)
    try vocabulary.check(Self.tokenizer, imageToken: "<image>", directory: "fixture")
    // The placeholder may be the only id beyond the embedding.
    let placeholderOnly = ModelVocabulary(size: 640, imageTokenId: 640, model: "policy model")
    try placeholderOnly.check(Self.tokenizer, imageToken: "<image>", directory: "fixture")
  }

  @Test func aTokenizerWithAnotherImageIdIsRefused() {
    let other = ModelVocabulary(size: 641, imageTokenId: 639, model: "policy model")
    #expect {
      try other.check(Self.tokenizer, imageToken: "<image>", directory: "fixture")
    } throws: { error in
      "\(error)".contains("<image> is id 640 but config.json's image_token_index is 639")
    }
  }

  @Test func aTokenizerLargerThanTheEmbeddingIsRefused() {
    let small = ModelVocabulary(size: 600, imageTokenId: 640, model: "reward model")
    #expect {
      try small.check(Self.tokenizer, imageToken: "<image>", directory: "fixture")
    } throws: { error in
      "\(error)".contains("the reward model embeds 600 (text_config.vocab_size): id 600 has no")
    }
  }

  @Test func aTokenizerWithoutTheImageTokenIsOnlyCheckedForSize() throws {
    try vocabulary.check(Self.tokenizer, imageToken: "<no such token>", directory: "fixture")
  }
}
