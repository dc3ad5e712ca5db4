// `rlhfd export`: the store's preferences and RL prompts in LLaVA-RLHF's JSON layouts (what
// `rlhfd import` reads, so import(export(x)) stores x again), and the images they refer to in
// a folder, named by SHA-256. Written record by record (a page of the store at a time).
import Foundation
import Store

struct ExportedTurn: Encodable {
  var from: String
  var value: String
}

struct ExportedOutput: Encodable {
  var value: String
}

/// One record of either layout (absent fields are left out).
struct ExportedRecord: Encodable {
  var id: String
  var image: String
  var conversations: [ExportedTurn]
  var output1: ExportedOutput?
  var output2: ExportedOutput?
  var preference: Int?
  var hallucination: Bool?
  var hallucination1: Bool?
  var hallucination2: Bool?
  var captions: [String]?
  var captionType: Int?
  var lengthBonus: Float?
  var choices: [String]?
  var correctChoice: Int?
  var yesNoAnswer: Bool?

  enum CodingKeys: String, CodingKey {
    case id, image, conversations, preference, hallucination, captions, choices
    case output1 = "output_1"
    case output2 = "output_2"
    case hallucination1 = "hallucination_1"
    case hallucination2 = "hallucination_2"
    case captionType = "caption_type"
    case lengthBonus = "length_bonus"
    case correctChoice = "correct_choice"
    case yesNoAnswer = "yes_no_answer"
  }

  mutating func setFacts(_ facts: StoredFacts?, withCaptionType: Bool) {
    if let facts {
      captions = facts.captions
      if !facts.choices.isEmpty { choices = facts.choices }
      correctChoice = facts.correctChoice
      yesNoAnswer = facts.yesNoAnswer
    }
    guard withCaptionType else { return }
    // LLaVA-RLHF's AnswerType: 7 yes, 6 no, 2-5 option A-D, 1 anything else.
    if let answer = facts?.yesNoAnswer {
      captionType = answer ? 7 : 6
    } else if let index = facts?.correctChoice, (0..<4).contains(index) {
      captionType = 2 + index
    } else {
      captionType = 1
    }
  }
}

final class FeedbackExporter {
  let store: SQLiteFeedbackStore
  let directory: URL
  private var imageNames: [String: String] = [:]

  init(store: SQLiteFeedbackStore, directory: URL) {
    self.store = store
    self.directory = directory
  }

  /// Writes preferences.json, rl_prompts.json and images/; returns the counts written.
  func run() throws -> (preferences: Int, prompts: Int, images: Int) {
    let images = directory.appendingPathComponent("images")
    try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
    var preferences = 0
    try write(directory.appendingPathComponent("preferences.json")) { emit in
      try store.forEachPreference { p in
        let r = p.record
        var record = ExportedRecord(
          id: p.id,
          image: try imageName(r.image.sha256, in: images),
          conversations: [
            ExportedTurn(from: "human", value: "<image>\n" + r.prompt),
            ExportedTurn(from: "gpt", value: r.preferred == 1 ? p.text1 : p.text2),
          ]
        )
        record.output1 = ExportedOutput(value: p.text1)
        record.output2 = ExportedOutput(value: p.text2)
        record.preference = r.preferred
        record.hallucination = r.datasetFlag
        record.hallucination1 = r.response1Hallucinated
        record.hallucination2 = r.response2Hallucinated
        record.setFacts(r.facts, withCaptionType: false)
        try emit(record)
        preferences += 1
      }
    }
    var prompts = 0
    try write(directory.appendingPathComponent("rl_prompts.json")) { emit in
      try store.forEachPrompt { p in
        let r = p.record
        var record = ExportedRecord(
          id: r.clientID.isEmpty ? p.id : r.clientID,
          image: try imageName(r.image.sha256, in: images),
          conversations: [ExportedTurn(from: "human", value: "<image>\n" + r.prompt)]
        )
        record.lengthBonus = r.lengthBonus
        record.setFacts(r.facts, withCaptionType: true)
        try emit(record)
        prompts += 1
      }
    }
    return (preferences, prompts, imageNames.count)
  }

  /// The image's file name (`<sha256>.png` / `.jpg`), written on first use.
  private func imageName(_ hash: String, in folder: URL) throws -> String {
    if let name = imageNames[hash] { return name }
    guard let bytes = try store.image(sha256: hash) else {
      throw ImportFailure("image \(hash) is referenced but not stored")
    }
    let ext =
      bytes.starts(with: [0x89, 0x50, 0x4E, 0x47])
      ? "png"
      : bytes.starts(with: [0xFF, 0xD8]) ? "jpg" : "bin"
    let name = "\(hash).\(ext)"
    try Data(bytes).write(to: folder.appendingPathComponent(name), options: .atomic)
    imageNames[hash] = name
    return name
  }

  /// A JSON list written one record at a time, to a temporary file renamed when complete.
  private func write(
    _ file: URL,
    _ body: ((ExportedRecord) throws -> Void) throws -> Void
  ) throws {
    let temporary = file.appendingPathExtension("partial")
    _ = FileManager.default.createFile(atPath: temporary.path, contents: nil)
    let handle = try FileHandle(forWritingTo: temporary)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var first = true
    try handle.write(contentsOf: Data("[".utf8))
    try body { record in
      try handle.write(contentsOf: Data(((first ? "\n" : ",\n") + "  ").utf8))
      try handle.write(contentsOf: try encoder.encode(record))
      first = false
    }
    try handle.write(contentsOf: Data((first ? "]\n" : "\n]\n").utf8))
    try handle.close()
    if FileManager.default.fileExists(atPath: file.path) {
      try FileManager.default.removeItem(at: file)
    }
    try FileManager.default.moveItem(at: temporary, to: file)
  }
}
