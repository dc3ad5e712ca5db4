import Foundation

/// `Tests/Fixtures/tokenizer/` (written by tools/reference/make_fixtures.py), found from this file.
enum Fixtures {
  static let directory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()
    .deletingLastPathComponent()
    .appendingPathComponent("Fixtures/tokenizer")

  static var modelPath: String { directory.appendingPathComponent("tokenizer.model").path }

  static let reference: Reference = {
    do {
      let data = try Data(contentsOf: directory.appendingPathComponent("reference.json"))
      return try JSONDecoder().decode(Reference.self, from: data)
    } catch {
      fatalError("cannot read tokenizer reference.json: \(error)")
    }
  }()

  struct Reference: Decodable {
    struct Special: Decodable {
      let unk: Int32
      let bos: Int32
      let eos: Int32
      let vocab_size: Int
      let image_token: String
      let image_token_id: Int32
    }
    struct Encode: Decodable {
      let text: String
      let ids: [Int32]
      let pieces: [String]
      let decoded: String
      let hf_ids: [Int32]?
    }
    struct Decode: Decodable {
      let ids: [Int32]
      let text: String
    }
    struct Incremental: Decodable {
      struct Prefix: Decodable {
        let n: Int
        let complete_utf8_text: String
        let pending_bytes: Int
      }
      let text: String
      let ids: [Int32]
      let prefixes: [Prefix]
    }
    struct Chat: Decodable {
      let system: String
      let prompt: String
      let image: Bool
      let rendered: String
      let ids: [Int32]
      let pieces: [String]
      let ids_legacy_true: [Int32]
      let ids_llava_original: [Int32]
    }
    let special: Special
    let encode: [Encode]
    let decode: [Decode]
    let incremental: [Incremental]
    let chat: [Chat]
  }
}
