// Stable content fingerprints for idempotency (the same submission gives the same fingerprint in
// any process: canonical JSON with sorted keys, images by hash, then 64-bit FNV-1a twice with two
// offsets, 128 bits in hex), and the JSON columns.
import Foundation

enum Fingerprint {
  private struct Preference: Encodable {
    let image: String
    let prompt: String
    let response1, response2: ResponseRef
    let preferred: Int
    let flags: [Bool]
    let facts: StoredFacts?
  }

  private struct Prompt: Encodable {
    let image: String
    let prompt: String
    let facts: StoredFacts?
    let lengthBonus: Float
    let clientID: String
  }

  private struct Rating: Encodable {
    let generation: String
    let score: Float
    let hallucinated: Bool?
  }

  static func of(_ p: PreferenceRecord) -> String {
    hash(
      Preference(
        image: p.image.sha256,
        prompt: p.prompt,
        response1: p.response1,
        response2: p.response2,
        preferred: p.preferred,
        flags: [p.response1Hallucinated, p.response2Hallucinated, p.datasetFlag],
        facts: p.facts
      )
    )
  }

  static func of(_ prompts: [PromptRecord]) -> String {
    hash(
      prompts.map {
        Prompt(
          image: $0.image.sha256,
          prompt: $0.prompt,
          facts: $0.facts,
          lengthBonus: $0.lengthBonus,
          clientID: $0.clientID
        )
      }
    )
  }

  static func of(_ r: RatingRecord) -> String {
    hash(Rating(generation: r.generationID, score: r.score, hallucinated: r.hallucinated))
  }

  /// Canonical JSON (sorted keys), or nil for nil.
  static func json(_ value: (some Encodable)?) -> String? {
    guard let value else { return nil }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    // Encoding these plain structs of strings and numbers does not fail (only non-finite floats
    // could, and validation refuses those before they get here).
    guard let data = try? encoder.encode(value) else { return "null" }
    return String(decoding: data, as: UTF8.self)
  }

  private static func hash(_ value: some Encodable) -> String {
    let bytes = Array(json(value)!.utf8)
    func fnv(_ offset: UInt64) -> UInt64 {
      var h = offset
      for byte in bytes { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
      return h
    }
    let parts = [fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4)]
    return parts.map { String($0, radix: 16).leftPadded(16) }.joined()
  }
}

extension String {
  fileprivate func leftPadded(_ width: Int) -> String {
    String(repeating: "0", count: max(0, width - count)) + self
  }
}
