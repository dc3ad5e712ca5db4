// Stable content fingerprints for idempotency: the same submission gives the same fingerprint in
// any process. Current form ("v2-" + 32 hex digits): a canonical binary encoding of the fields
// (each field tagged, strings length-prefixed UTF-8, integers and float bit patterns
// little-endian, images by hash) fed to 64-bit FNV-1a twice with two offsets, 128 bits; no JSON
// encoder (it was ~15 % of an acknowledgement's CPU). Rows written before (32 hex digits, no
// prefix) hold the legacy form, the same hash over canonical JSON with sorted keys (`legacy`):
// a key found with one of those is compared in that form, so old keys stay idempotent. `json`
// is also the JSON columns' encoder.
import Foundation

enum Fingerprint {
  /// The prefix of the current form; legacy fingerprints have none.
  static let prefix = "v2-"

  static func of(_ p: PreferenceRecord) -> String {
    var h = Canonical(kind: 1)
    h.string(p.image.sha256)
    h.string(p.prompt)
    h.response(p.response1)
    h.response(p.response2)
    h.int(p.preferred)
    h.bool(p.response1Hallucinated)
    h.bool(p.response2Hallucinated)
    h.bool(p.datasetFlag)
    h.facts(p.facts)
    return h.hex
  }

  static func of(_ prompts: [PromptRecord]) -> String {
    var h = Canonical(kind: 2)
    h.int(prompts.count)
    for p in prompts {
      h.string(p.image.sha256)
      h.string(p.prompt)
      h.facts(p.facts)
      h.float(p.lengthBonus)
      h.string(p.clientID)
    }
    return h.hex
  }

  static func of(_ r: RatingRecord) -> String {
    var h = Canonical(kind: 3)
    h.string(r.generationID)
    h.float(r.score)
    h.optional(r.hallucinated) { $0.bool($1) }
    return h.hex
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
}

/// The two FNV-1a lanes over the canonical encoding, fed field by field.
struct Canonical {
  private var a: UInt64 = 0xcbf2_9ce4_8422_2325
  private var b: UInt64 = 0x8422_2325_cbf2_9ce4

  /// `kind` separates the record types.
  init(kind: UInt8) { byte(kind) }

  mutating func byte(_ x: UInt8) {
    a = (a ^ UInt64(x)) &* 0x100_0000_01b3
    b = (b ^ UInt64(x)) &* 0x100_0000_01b3
  }

  mutating func word(_ x: UInt64) {
    for i in 0..<8 { byte(UInt8(truncatingIfNeeded: x >> (8 * i))) }
  }

  mutating func int(_ x: Int) { word(UInt64(bitPattern: Int64(x))) }
  mutating func bool(_ x: Bool) { byte(x ? 1 : 0) }
  mutating func float(_ x: Float) { word(UInt64(x.bitPattern)) }

  mutating func string(_ s: String) {
    word(UInt64(s.utf8.count))
    for x in s.utf8 { byte(x) }
  }

  mutating func optional<T>(_ value: T?, _ body: (inout Canonical, T) -> Void) {
    guard let value else { return byte(0) }
    byte(1)
    body(&self, value)
  }

  mutating func response(_ r: ResponseRef) {
    switch r {
    case .text(let text):
      byte(1)
      string(text)
    case .generation(let id):
      byte(2)
      string(id)
    }
  }

  mutating func facts(_ facts: StoredFacts?) {
    optional(facts) { h, f in
      h.int(f.captions.count)
      for caption in f.captions { h.string(caption) }
      h.int(f.choices.count)
      for choice in f.choices { h.string(choice) }
      h.optional(f.correctChoice) { $0.int($1) }
      h.optional(f.yesNoAnswer) { $0.bool($1) }
    }
  }

  /// "v2-" and the two lanes as 32 lowercase hex digits.
  var hex: String {
    let digits = Array("0123456789abcdef".utf8)
    var out = Array(Fingerprint.prefix.utf8)
    out.reserveCapacity(out.count + 32)
    for lane in [a, b] {
      for shift in stride(from: 60, through: 0, by: -4) {
        out.append(digits[Int((lane >> UInt64(shift)) & 0xf)])
      }
    }
    return String(decoding: out, as: UTF8.self)
  }
}
