// libFuzzer target: request decoding and validation, the path every RPC's bytes take before a
// service acts on them (research/reliability.md G4). The first byte picks the request type, the
// rest is the protobuf encoding. Built only by scripts/fuzz.sh (debug, so `@testable` works).
import API
import SwiftProtobuf

@testable import Services

let limits = RequestLimits()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzValidation(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  guard count > 0, let start else { return 0 }
  let kind = start.load(as: UInt8.self)
  let body = Array(UnsafeRawBufferPointer(start: start + 1, count: count - 1))
  do {
    switch kind % 5 {
    case 0: try Validation.check(Rlhfd_V1_GenerateRequest(serializedBytes: body), limits: limits)
    case 1: try Validation.check(Rlhfd_V1_ScoreRequest(serializedBytes: body), limits: limits)
    case 2: try Validation.check(Rlhfd_V1_PreferenceFeedback(serializedBytes: body))
    case 3: try Validation.check(Rlhfd_V1_PromptBatch(serializedBytes: body), limits: limits)
    default: try Validation.check(Rlhfd_V1_RatingFeedback(serializedBytes: body))
    }
  } catch {
    // Decoding errors and INVALID_ARGUMENT are the expected outcomes; only a trap is a finding.
  }
  return 0
}
