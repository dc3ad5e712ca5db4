// File records to the Feedback API's messages, which then go through the RPCs' validation
// (FeedbackIntake): the file layouts' own rules (image file, turns, caption_type) live here,
// every rule of the API lives there.
import API
import Foundation

extension FeedbackFileRecord {
  func preferenceMessage(images: ImageFolder, key: String) throws(RecordError)
    -> Rlhfd_V1_PreferenceFeedback
  {
    if let problem = problems.first { throw RecordError(problem) }
    var message = Rlhfd_V1_PreferenceFeedback()
    message.image.data = Data(try images.bytes(of: image))
    message.prompt = try prompt(singleTurn: true)
    if let output1 { message.response1.text = output1.value }
    if let output2 { message.response2.text = output2.value }
    guard let preference else { throw RecordError("preference is missing (1 or 2)") }
    guard let preferred = UInt32(exactly: preference) else {
      throw RecordError("preference must be 1 or 2, got \(preference)")
    }
    message.preferred = preferred
    message.hallucination.datasetFlag = hallucination ?? false
    message.hallucination.response1Hallucinated = hallucination1 ?? false
    message.hallucination.response2Hallucinated = hallucination2 ?? false
    if let facts = try facts() { message.facts = facts }
    message.idempotencyKey = key
    return message
  }

  func promptMessage(images: ImageFolder, key: String) throws(RecordError) -> Rlhfd_V1_PromptBatch {
    if let problem = problems.first { throw RecordError(problem) }
    var prompt = Rlhfd_V1_RlPrompt()
    prompt.image.data = Data(try images.bytes(of: image))
    prompt.prompt = try self.prompt(singleTurn: false)
    if let facts = try facts() { prompt.facts = facts }
    if let lengthBonus { prompt.lengthBonus = Float(lengthBonus) }
    prompt.clientID = id ?? ""
    var batch = Rlhfd_V1_PromptBatch()
    batch.prompts = [prompt]
    batch.idempotencyKey = key
    return batch
  }

  /// Captions and symbolic facts; `caption_type` (LLaVA-RLHF's AnswerType: 1 general, 2-5 the
  /// correct option is A-D, 6 the answer is no, 7 yes) fills in what the fields leave out and
  /// must agree with what they give.
  func facts() throws(RecordError) -> Rlhfd_V1_Facts? {
    var correct = correctChoice
    var yesNo = yesNoAnswer
    var options = choices
    if let captionType {
      switch captionType {
      case 1: break
      case 2...5:
        let index = captionType - 2
        if let correct, correct != index {
          throw RecordError(
            "caption_type \(captionType) says option \(index), correct_choice \(correct)"
          )
        }
        correct = index
        if options == nil { options = ["A", "B", "C", "D"] }
      case 6, 7:
        if let yesNo, yesNo != (captionType == 7) {
          throw RecordError("caption_type \(captionType) disagrees with yes_no_answer \(yesNo)")
        }
        yesNo = captionType == 7
      default: throw RecordError("caption_type must be 1-7, got \(captionType)")
      }
    }
    guard captions != nil || options != nil || correct != nil || yesNo != nil else { return nil }
    var facts = Rlhfd_V1_Facts()
    facts.captions = captions ?? []
    facts.choices = options ?? []
    if let correct {
      guard let value = Int32(exactly: correct) else {
        throw RecordError("correct_choice \(correct) is out of range")
      }
      facts.correctChoice = value
    }
    if let yesNo { facts.yesNoAnswer = yesNo }
    return facts
  }
}

/// The folder a file's `image` names are relative to.
struct ImageFolder {
  let path: String

  func bytes(of name: String?) throws(RecordError) -> [UInt8] {
    guard let name, !name.isEmpty else { throw RecordError("image is missing") }
    if name.hasPrefix("/") || name.split(separator: "/").contains("..") {
      throw RecordError("image '\(name)' must be a name inside the image folder")
    }
    let file = URL(fileURLWithPath: path).appendingPathComponent(name).path
    guard let data = FileManager.default.contents(atPath: file) else {
      throw RecordError("image '\(name)' cannot be read in \(path)")
    }
    return [UInt8](data)
  }
}
