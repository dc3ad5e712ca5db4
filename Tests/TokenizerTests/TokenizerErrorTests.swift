import Foundation
import Testing
import Tokenizer

@Suite struct TokenizerErrorTests {
  static let modelBytes: [UInt8] = {
    do {
      return try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.modelPath)))
    } catch { fatalError("\(error)") }
  }()

  @Test func missingFile() {
    let error = #expect(throws: TokenizerError.self) {
      try SentencePieceTokenizer(modelPath: "/nonexistent/tokenizer.model")
    }
    #expect(error?.code == .invalidModel)
    #expect(error?.message.contains("/nonexistent/tokenizer.model") == true)
    #expect(error?.message.contains("No such file") == true)
  }

  @Test func directoryInsteadOfFile() {
    let error = #expect(throws: TokenizerError.self) {
      try SentencePieceTokenizer(modelPath: Fixtures.directory.path)
    }
    #expect(error?.code == .invalidModel)
  }

  static let corruptModels: [(String, [UInt8])] = {
    var random = SplitMix64(seed: 7)
    let noise = (0..<4096).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    var flipped = modelBytes
    for i in stride(from: 0, to: flipped.count, by: 97) { flipped[i] ^= 0xFF }
    return [
      ("empty", []),
      ("random bytes", noise),
      ("truncated", Array(modelBytes.prefix(modelBytes.count / 2))),
      ("one byte", [0x0A]),
      ("text", Array("not a sentencepiece model\n".utf8)),
      ("bytes flipped", flipped),
    ]
  }()

  @Test(arguments: corruptModels.indices)
  func corruptModelBytes(index: Int) {
    let (name, bytes) = Self.corruptModels[index]
    for legacy in [true, false] {
      let error = #expect(throws: TokenizerError.self, "\(name)") {
        try SentencePieceTokenizer(modelBytes: bytes, configuration: .init(legacy: legacy))
      }
      #expect(error?.code == .invalidModel, "\(name)")
      #expect(error?.message.hasPrefix("not a SentencePiece model") == true, "\(name)")
    }
  }

  @Test func outOfRangeIDs() throws {
    let tokenizer = try SentencePieceTokenizer(modelBytes: Self.modelBytes)
    for id: TokenID in [-1, 641, .max, .min] {
      let error = #expect(throws: TokenizerError.self) { try tokenizer.decode([424, id]) }
      #expect(error?.code == .invalidID)
      #expect(tokenizer.piece(for: id) == nil)
    }
    var decoder = tokenizer.makeIncrementalDecoder()
    #expect(decoder.push([-5, 9999, 424]) == "H")
  }

  @Test func clashingAddedTokens() throws {
    let clashes: [[AddedToken]] = [
      [AddedToken("<a>", id: 700), AddedToken("<a>", id: 701)],
      [AddedToken("<a>", id: 700), AddedToken("<b>", id: 700)],
      [AddedToken("<a>", id: -1)],
      [AddedToken("", id: 700)],
    ]
    for tokens in clashes {
      let error = #expect(throws: TokenizerError.self) {
        try SentencePieceTokenizer(
          modelBytes: Self.modelBytes,
          configuration: .init(addedTokens: tokens)
        )
      }
      #expect(error?.code == .invalidConfiguration)
    }
    // An explicit `<image>` wins over the appended default.
    let explicit = try SentencePieceTokenizer(
      modelBytes: Self.modelBytes,
      configuration: .init(addedTokens: [AddedToken("<image>", id: 700)])
    )
    #expect(explicit.addedTokenID("<image>") == 700)
    #expect(explicit.vocabSize == 701)
  }

  @Test func addedTokenStripping() throws {
    let configuration = SentencePieceTokenizer.Configuration(
      appendedTokens: [],
      addedTokens: [AddedToken("<image>", id: 640, lstrip: true, rstrip: true)]
    )
    let tokenizer = try SentencePieceTokenizer(
      modelBytes: Self.modelBytes,
      configuration: configuration
    )
    let stripped = try tokenizer.encode("a  <image>  b", addBOS: false)
    let plain = try tokenizer.encode("a<image>b", addBOS: false)
    #expect(stripped == plain)
    #expect(stripped.contains(640))
  }

  /// One tokenizer shared by many threads gives the same results as serial use.
  @Test func concurrentUse() async throws {
    let tokenizer = try SentencePieceTokenizer(
      modelBytes: Self.modelBytes,
      configuration: .init(legacy: false)
    )
    let texts = Fixtures.reference.encode.map(\.text)
    let serial = try texts.map { try tokenizer.encode($0) }
    try await withThrowingTaskGroup(of: Bool.self) { group in
      for worker in 0..<8 {
        group.addTask {
          for round in 0..<50 {
            let index = (worker * 7 + round) % texts.count
            let ids = try tokenizer.encode(texts[index])
            guard ids == serial[index] else { return false }
            guard try tokenizer.decode(ids) == (try tokenizer.decode(serial[index])) else {
              return false
            }
          }
          return true
        }
      }
      for try await ok in group { #expect(ok) }
    }
  }
}
