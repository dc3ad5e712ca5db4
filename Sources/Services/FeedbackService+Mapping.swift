// Feedback messages to the store's records and back, and the store's errors as gRPC statuses.
import API
import GRPCCore
import ServingTypes
import Store
import StoreMapping

extension FeedbackService {
  static func response(_ reference: Rlhfd_V1_ResponseRef) -> ResponseRef {
    switch reference.source {
    case .generationID(let id): .generation(id)
    case .text(let text): .text(text)
    case .none: .text("")  // refused by validation
    }
  }

  /// The store's form of request facts (the same mapping as Score's, then `StoreMapping`'s).
  static func facts(_ f: Rlhfd_V1_Facts) -> StoredFacts { StoredFacts(RewardFacts(f)) }

  /// Runs a submission and turns its durable ack into the reply.
  static func ack(
    _ kind: FeedbackMetrics.Kind,
    _ submit: () async throws(StoreError) -> StoreAck
  ) async throws(RPCError) -> Rlhfd_V1_FeedbackAck {
    let started = ContinuousClock.now
    let ack: StoreAck
    do { ack = try await submit() } catch {
      FeedbackMetrics.record(kind, outcome: .error, since: started)
      throw rpcError(error)
    }
    FeedbackMetrics.record(kind, outcome: ack.duplicate ? .duplicate : .accepted, since: started)
    var reply = Rlhfd_V1_FeedbackAck()
    reply.feedbackIds = ack.ids
    reply.accepted = UInt32(ack.ids.count)
    reply.duplicate = ack.duplicate
    return reply
  }

  static func rpcError(_ error: StoreError) -> RPCError {
    let code: RPCError.Code =
      switch error.code {
      case .notFound: .notFound
      case .conflict, .exists: .alreadyExists
      case .precondition: .failedPrecondition
      case .full: .resourceExhausted
      case .unavailable, .cannotOpen: .unavailable
      }
    return RPCError(code: code, message: error.message)
  }
}

extension Validation {
  /// The store's reference to a request image: bytes are probed (a PNG or JPEG within the
  /// limits) and hashed; a hash is taken as given (the store checks that it knows it). Nil for
  /// bytes when there is no probe (a catalog without a daemon behind it: nothing is stored).
  static func probe(
    _ image: Rlhfd_V1_Image,
    field: String,
    with probe: ImageProbe?
  ) throws(RPCError) -> ImageRef? {
    switch image.source {
    case .sha256(let hash): return .sha256(hash)
    case .data(let data):
      let bytes = [UInt8](data)
      guard let probe else { return nil }
      do { return .bytes(sha256: try probe(bytes), bytes) } catch {
        throw invalid("\(field).data: \(error)")
      }
    case .none: throw invalid("\(field): set either data (PNG/JPEG bytes) or sha256")
    }
  }
}
