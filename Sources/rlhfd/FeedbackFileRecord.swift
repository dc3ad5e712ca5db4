// One record of LLaVA-RLHF's JSON files, read leniently: a field of the wrong type is noted
// (the record is then rejected with that reason) instead of failing the whole file. Both
// layouts share it: LLaVA-Human-Preference-10K (`output_1`, `output_2`, `preference`,
// `hallucination`) and the PPO prompt file (`captions`, `caption_type`, `length_bonus`), plus
// the symbolic facts the world tool adds (`choices`, `correct_choice`, `yes_no_answer`) and
// per-response flags (`hallucination_1`, `hallucination_2`).
import Foundation

struct FeedbackFileRecord: Decodable {
  struct Turn: Decodable {
    var from: String
    var value: String
  }

  struct Output: Decodable {
    var value: String
  }

  var id: String?
  var image: String?
  var conversations: [Turn]?
  var output1: Output?
  var output2: Output?
  var preference: Int?
  var hallucination: Bool?
  var hallucination1: Bool?
  var hallucination2: Bool?
  var captions: [String]?
  var captionType: Int?
  var lengthBonus: Double?
  var choices: [String]?
  var correctChoice: Int?
  var yesNoAnswer: Bool?
  /// Fields present with the wrong type.
  var problems: [String] = []
  /// The record has `output_1` or `output_2` (the preference layout).
  var isPreference: Bool { output1 != nil || output2 != nil || preference != nil }

  enum Key: String, CodingKey {
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

  init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: Key.self)
    var problems: [String] = []
    func field<T: Decodable>(_ key: Key, _ type: T.Type, _ expected: String) -> T? {
      guard c.contains(key), (try? c.decodeNil(forKey: key)) != true else { return nil }
      if let value = try? c.decode(T.self, forKey: key) { return value }
      problems.append("\(key.rawValue) must be \(expected)")
      return nil
    }
    if c.contains(.id), let number = try? c.decode(Int.self, forKey: .id) {
      id = String(number)
    } else {
      id = field(.id, String.self, "a string or an integer")
    }
    image = field(.image, String.self, "a file name")
    conversations = field(.conversations, [Turn].self, "a list of {from, value}")
    output1 = field(.output1, Output.self, "{\"value\": text}")
    output2 = field(.output2, Output.self, "{\"value\": text}")
    preference = field(.preference, Int.self, "1 or 2")
    hallucination = field(.hallucination, Bool.self, "true or false")
    hallucination1 = field(.hallucination1, Bool.self, "true or false")
    hallucination2 = field(.hallucination2, Bool.self, "true or false")
    captions = field(.captions, [String].self, "a list of strings")
    captionType = field(.captionType, Int.self, "an integer 1-7")
    lengthBonus = field(.lengthBonus, Double.self, "a number")
    choices = field(.choices, [String].self, "a list of strings")
    correctChoice = field(.correctChoice, Int.self, "an integer")
    yesNoAnswer = field(.yesNoAnswer, Bool.self, "true or false")
    self.problems = problems
  }

  /// The user turn: the first human turn without LLaVA's `<image>` marker.
  func prompt(singleTurn: Bool) throws(RecordError) -> String {
    guard let conversations, let first = conversations.first else {
      throw RecordError("conversations is missing or empty")
    }
    guard first.from == "human" else {
      throw RecordError("conversations[0] is from '\(first.from)', not 'human'")
    }
    if singleTurn && conversations.count > 2 {
      throw RecordError(
        "conversations has \(conversations.count) turns; the store keeps one user turn "
          + "(multi-turn context is not supported)"
      )
    }
    return Self.removingImageMarker(first.value)
  }

  static func removingImageMarker(_ text: String) -> String {
    if text.hasPrefix("<image>\n") { return String(text.dropFirst("<image>\n".count)) }
    if text.hasSuffix("\n<image>") { return String(text.dropLast("\n<image>".count)) }
    return text.replacingOccurrences(of: "<image>", with: "")
  }
}

/// Why a record was refused.
struct RecordError: Error {
  var message: String
  init(_ message: String) { self.message = message }
}
