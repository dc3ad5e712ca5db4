// Finished generations into the feedback store: mapped to the store's record and queued for its
// group committer (never waited for). A full queue drops the record: the Generate has already
// succeeded, and feedback on that id will get NOT_FOUND.
import Foundation
public import ServingTypes
public import Store

public struct StoreRecorder: GenerationRecorder {
  let store: any FeedbackStore
  /// The chat template's configuration name (`llava15`, `llava_rlhf`).
  let template: String

  public init(store: any FeedbackStore, template: String) {
    self.store = store
    self.template = template
  }

  public func record(_ g: FinishedGeneration) {
    let request = g.request
    let images: [ImageRef] = zip(request.images, g.imageHashes).map { image, hash in
      switch image {
      case .data(let bytes): .bytes(sha256: hash, bytes)
      case .sha256: .sha256(hash)
      }
    }
    let s = request.sampling
    store.record(
      GenerationRecord(
        id: g.result.generationId,
        createdUnixMs: Int64((Date().timeIntervalSince1970 * 1000).rounded()),
        policyVersion: g.result.policyVersion,
        prompt: request.prompt,
        rawPrompt: request.rawPrompt,
        template: request.rawPrompt ? "raw" : template,
        images: images,
        sampling: StoredSampling(
          maxNewTokens: g.maxNewTokens,
          temperature: s.temperature,
          topK: s.topK,
          topP: s.topP,
          repetitionPenalty: s.repetitionPenalty,
          seed: g.seed,
          stop: s.stop
        ),
        promptTokenCount: g.result.promptTokens,
        tokenIds: g.result.tokenIds,
        logprobs: g.logprobs,
        text: g.result.text,
        finishReason: "\(g.result.finishReason)".uppercased(),
        queueMs: g.result.queueTimeMs,
        computeMs: g.result.computeTimeMs
      )
    )
  }
}
