// Feedback requests to the store's records, through the RPCs' own validation: the one place
// where a submission is checked and converted. FeedbackService uses it for the RPCs and
// `rlhfd import` for files, so a record is accepted or refused the same way by both.
public import API
public import GRPCCore
public import Store

public enum FeedbackIntake {
  /// A checked SubmitPreference as the store's record; nil when the image is bytes and there
  /// is no probe to check them with (a catalog without a daemon: nothing can be stored).
  public static func preference(
    _ request: Rlhfd_V1_PreferenceFeedback,
    probe: ImageProbe?
  ) throws(RPCError) -> PreferenceRecord? {
    try Validation.check(request)
    guard let image = try Validation.probe(request.image, field: "image", with: probe) else {
      return nil
    }
    var record = PreferenceRecord(
      image: image,
      prompt: request.prompt,
      response1: FeedbackService.response(request.response1),
      response2: FeedbackService.response(request.response2),
      preferred: Int(request.preferred)
    )
    record.response1Hallucinated = request.hallucination.response1Hallucinated
    record.response2Hallucinated = request.hallucination.response2Hallucinated
    record.datasetFlag = request.hallucination.datasetFlag
    record.facts = request.hasFacts ? FeedbackService.facts(request.facts) : nil
    return record
  }

  /// A checked SubmitPrompts as the store's records (nil as for `preference`).
  public static func prompts(
    _ request: Rlhfd_V1_PromptBatch,
    limits: RequestLimits,
    probe: ImageProbe?
  ) throws(RPCError) -> [PromptRecord]? {
    try Validation.check(request, limits: limits)
    var records: [PromptRecord] = []
    for (index, prompt) in request.prompts.enumerated() {
      let field = "prompts[\(index)].image"
      guard let image = try Validation.probe(prompt.image, field: field, with: probe) else {
        return nil
      }
      var record = PromptRecord(image: image, prompt: prompt.prompt)
      record.facts = prompt.hasFacts ? FeedbackService.facts(prompt.facts) : nil
      if prompt.hasLengthBonus { record.lengthBonus = prompt.lengthBonus }
      record.clientID = prompt.clientID
      records.append(record)
    }
    return records
  }

  /// A checked SubmitRating as the store's record.
  public static func rating(_ request: Rlhfd_V1_RatingFeedback) throws(RPCError) -> RatingRecord {
    try Validation.check(request)
    var record = RatingRecord(generationID: request.generationID, score: request.score)
    record.hallucinated = request.hasHallucinated ? request.hallucinated : nil
    return record
  }

  /// The status an RPC answers for a store error (NOT_FOUND, ALREADY_EXISTS, ...).
  public static func rpcError(_ error: StoreError) -> RPCError { FeedbackService.rpcError(error) }
}
