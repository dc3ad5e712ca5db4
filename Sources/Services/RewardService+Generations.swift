// Score by `generation_ids`: the candidates are stored generations (GenerateResponse's
// `generation_id`), read back from the feedback store: their response texts are scored against
// their shared prompt and image (the image's bytes come from the store, so the reward model
// needs no earlier upload). The request's own `prompt` or `image`, when given, are used instead.
import API
import Foundation
import GRPCCore
import Store
import SwiftProtobuf

extension RewardService {
  /// `request` with `responses`, and `prompt` / `image` unless given, from the generations.
  static func resolvingGenerations(
    _ request: Rlhfd_V1_ScoreRequest,
    store: (any FeedbackStore)?
  ) throws(RPCError) -> Rlhfd_V1_ScoreRequest {
    guard let store else {
      throw NotBuilt.error("Reward.Score by generation_ids", needs: "feedback store")
    }
    var records: [GenerationRecord] = []
    for (index, id) in request.generationIds.enumerated() {
      let record: GenerationRecord?
      do { record = try store.generation(id: id) } catch {
        throw FeedbackService.rpcError(error)
      }
      guard let record else {
        throw RPCError(
          code: .notFound,
          message: "generation_ids[\(index)] '\(id.prefix(80))' is not a stored generation"
        )
      }
      records.append(record)
    }
    var resolved = request
    resolved.responses = records.map(\.text)
    resolved.generationIds = []
    let first = records[0]
    if request.prompt.isEmpty {
      guard records.allSatisfy({ $0.prompt == first.prompt && $0.rawPrompt == first.rawPrompt })
      else {
        throw Validation.invalid(
          "the generations have different prompts: score generations of one prompt, or give prompt"
        )
      }
      if first.rawPrompt {
        throw Validation.invalid(
          "generation '\(first.id)' had a raw (templated) prompt: give prompt, the user's question"
        )
      }
      resolved.prompt = first.prompt
    }
    if !request.hasImage {
      let hashes = records.map { $0.images.map(\.sha256) }
      guard hashes.allSatisfy({ $0 == hashes[0] }) else {
        throw Validation.invalid(
          "the generations have different images: score generations of one image, or give image"
        )
      }
      guard hashes[0].count == 1, let hash = hashes[0].first else {
        throw Validation.invalid(
          "generation '\(first.id)' has \(hashes[0].count) images; the reward model scores a "
            + "response to one image: give image"
        )
      }
      let bytes: [UInt8]?
      do { bytes = try store.image(sha256: hash) } catch { throw FeedbackService.rpcError(error) }
      guard let bytes else {
        throw RPCError(
          code: .notFound,
          message: "the image \(hash) of generation '\(first.id)' is no longer stored"
        )
      }
      resolved.image = .with { $0.data = Data(bytes) }
    }
    return resolved
  }
}
