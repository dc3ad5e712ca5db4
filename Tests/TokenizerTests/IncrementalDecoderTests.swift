import Foundation
import Testing

@testable import Tokenizer

/// Property: for any id sequence, the concatenated deltas of an `IncrementalDecoder` equal the
/// library's decode of the whole sequence, and every delta is final (never revised).
@Suite struct IncrementalDecoderTests {
  /// The fixture model as is, without its dummy prefix, and with `remove_extra_whitespaces`.
  static let variants: [(name: String, model: SentencePieceModel)] = {
    do {
      let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.modelPath)))
      return [
        ("as trained", try SentencePieceModel(bytes: bytes)),
        ("no dummy prefix", try SentencePieceModel(bytes: bytes, removeDummyPrefix: true)),
        (
          "remove_extra_whitespaces",
          try SentencePieceModel(bytes: ModelProtoPatch.normalizerField(4, value: 1, in: bytes))
        ),
      ]
    } catch { fatalError("\(error)") }
  }()

  @Test func variantsHaveTheIntendedFlags() {
    let flags = Self.variants.map { ($0.model.addsDummyPrefix, $0.model.removesExtraWhitespaces) }
    #expect(flags.map(\.0) == [true, false, true])
    #expect(flags.map(\.1) == [false, false, true])
    #expect(Self.variants.allSatisfy { !$0.model.hasDenormalizer })
  }

  @Test(arguments: 0..<3)
  func concatenatedDeltasEqualFullDecode(variant: Int) throws {
    let model = Self.variants[variant].model
    let table = try PieceTable(model: model)
    var random = SplitMix64(seed: 0x5EED + UInt64(variant))
    for _ in 0..<3000 {
      let ids = Self.randomIDs(&random, vocabSize: model.vocabSize)
      var decoder = IncrementalDecoder(table: table)
      var streamed = ""
      for id in ids { streamed += decoder.push(id) }
      streamed += decoder.finish()
      let expected = try model.decode(ids.filter { Int($0) < model.vocabSize })
      try #require(streamed == expected, "\(Self.variants[variant].name): ids \(ids)")
    }
  }

  @Test func holdsBackIncompleteCharactersOnly() throws {
    let tokenizer = try SentencePieceTokenizer(modelPath: Fixtures.modelPath)
    let bytes = "é🙂".utf8.map { tokenizer.id(forPiece: String(format: "<0x%02X>", $0))! }
    var decoder = tokenizer.makeIncrementalDecoder()
    #expect(decoder.push(bytes[0]) == "")
    #expect(decoder.hasPendingBytes)
    #expect(decoder.push(bytes[1]) == "é")
    #expect(decoder.push(bytes[2...4]) == "")
    #expect(decoder.push(bytes[5]) == "🙂")
    // A truncated character ends as U+FFFD per byte, like the library.
    #expect(decoder.push(bytes[2]) == "")
    #expect(decoder.finish() == "\u{FFFD}")
    // An impossible continuation is released at once.
    var other = tokenizer.makeIncrementalDecoder()
    #expect(other.push([bytes[2], tokenizer.id(forPiece: "<0x41>")!]) == "\u{FFFD}A")
    #expect(!other.hasPendingBytes)
  }

  @Test func addedAndControlTokensProduceNoText() throws {
    let tokenizer = try SentencePieceTokenizer(modelPath: Fixtures.modelPath)
    var decoder = tokenizer.makeIncrementalDecoder()
    let ids: [TokenID] = [1, 640, 424, 382, 2, 539]
    #expect(decoder.push(ids) == "Hello")
    #expect(try tokenizer.decode(ids) == "Hello")
    #expect(try tokenizer.decode(ids, includeAddedTokens: true) == "<image>Hello")
  }

  /// Mostly byte pieces (often forming or breaking UTF-8), plus control, unknown, `▁`, added and
  /// ordinary pieces.
  static func randomIDs(_ random: inout SplitMix64, vocabSize: Int) -> [TokenID] {
    let utf8Samples = Array("é東🙂Ω✓ a".utf8)
    return (0..<random.next(below: 24)).map { _ in
      switch random.next(below: 10) {
      case 0...3: return TokenID(3 + Int(utf8Samples[random.next(below: utf8Samples.count)]))
      case 4: return TokenID(3 + random.next(below: 256))
      case 5: return TokenID(random.next(below: 3))
      case 6: return random.next(below: 2) == 0 ? 532 : 321  // "▁", "▁▁"
      case 7: return TokenID(vocabSize)  // an added token
      default: return TokenID(259 + random.next(below: vocabSize - 259))
      }
    }
  }
}

struct SplitMix64 {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  mutating func next(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// Sets a varint field of `normalizer_spec` (ModelProto field 3) by appending it to every copy of
/// that sub-message; protobuf keeps the last value.
enum ModelProtoPatch {
  static func normalizerField(_ field: UInt8, value: UInt8, in bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var pos = 0
    func varint() -> Int {
      var value = 0
      var shift = 0
      while true {
        let byte = bytes[pos]
        pos += 1
        value |= Int(byte & 0x7F) << shift
        shift += 7
        if byte & 0x80 == 0 { return value }
      }
    }
    while pos < bytes.count {
      let start = pos
      let key = varint()
      switch key & 7 {
      case 0: _ = varint()
      case 1: pos += 8
      case 5: pos += 4
      default:
        let length = varint()
        if key >> 3 == 3 {
          out +=
            [0x1A] + encodeVarint(length + 2) + bytes[pos..<pos + length] + [field << 3, value]
          pos += length
          continue
        }
        pos += length
      }
      out += bytes[start..<pos]
    }
    return out
  }

  static func encodeVarint(_ value: Int) -> [UInt8] {
    var value = value
    var out: [UInt8] = []
    while value >= 0x80 {
      out.append(UInt8(value & 0x7F) | 0x80)
      value >>= 7
    }
    return out + [UInt8(value)]
  }
}
