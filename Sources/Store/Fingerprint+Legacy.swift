// The legacy fingerprints (before "v2-"): 64-bit FNV-1a twice over canonical JSON with sorted
// keys, images by hash, 32 hex digits. Computed only when a key's stored fingerprint has this
// form, so that submissions acknowledged by an older rlhfd stay idempotent.
import Foundation

extension Fingerprint {
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

  static func legacy(_ p: PreferenceRecord) -> String {
    legacyHash(
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

  static func legacy(_ prompts: [PromptRecord]) -> String {
    legacyHash(
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

  static func legacy(_ r: RatingRecord) -> String {
    legacyHash(Rating(generation: r.generationID, score: r.score, hallucinated: r.hallucinated))
  }

  private static func legacyHash(_ value: some Encodable) -> String {
    let bytes = Array(json(value)!.utf8)
    func fnv(_ offset: UInt64) -> UInt64 {
      var h = offset
      for byte in bytes { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
      return h
    }
    return [fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4)].map {
      let digits = String($0, radix: 16)
      return String(repeating: "0", count: 16 - digits.count) + digits
    }.joined()
  }
}
