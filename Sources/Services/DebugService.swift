// rlhfd.v1.Debug: calls with known timing and size for black-box tests of the transport
// (drain, deadlines, cancellation, message limits). Served only with `debug_service: true`.
import API
import Foundation
import GRPCCore
import SwiftProtobuf

struct DebugService: Rlhfd_V1_Debug.SimpleServiceProtocol {
  static let maxSleep = Duration.seconds(60)

  func sleep(
    request: Rlhfd_V1_SleepRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_SleepResponse {
    let duration = Duration.milliseconds(Int64(request.durationMs))
    if duration > Self.maxSleep { throw Validation.invalid("duration_ms must be at most 60000") }
    let start = ContinuousClock.now
    do { try await Task.sleep(for: duration) } catch {
      throw RPCError(code: .cancelled, message: "the call was cancelled while sleeping")
    }
    let slept = ContinuousClock.now - start
    return .with {
      $0.sleptMs =
        Double(slept.components.seconds) * 1e3 + Double(slept.components.attoseconds) / 1e15
    }
  }

  func echo(
    request: Rlhfd_V1_EchoRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_EchoResponse {
    .with { $0.payload = request.payload }
  }

  func ticks(
    request: Rlhfd_V1_TicksRequest,
    response: RPCWriter<Rlhfd_V1_Tick>,
    context: ServerContext
  ) async throws {
    if request.count > 100_000 { throw Validation.invalid("count must be at most 100000") }
    if request.intervalMs > 60_000 { throw Validation.invalid("interval_ms must be at most 60000") }
    for index in 0..<request.count {
      if index > 0 && request.intervalMs > 0 {
        do { try await Task.sleep(for: .milliseconds(Int64(request.intervalMs))) } catch {
          throw RPCError(code: .cancelled, message: "the stream was cancelled")
        }
      }
      try await response.write(.with { $0.index = index })
    }
  }

  func concat(
    request: RPCAsyncSequence<Rlhfd_V1_EchoRequest, any Error>,
    context: ServerContext
  ) async throws -> Rlhfd_V1_EchoResponse {
    var payload = Data()
    for try await message in request {
      payload.append(message.payload)
      if payload.count > Self.maxConcatBytes {
        throw RPCError(
          code: .resourceExhausted,
          message: "the payloads exceed \(Self.maxConcatBytes) bytes"
        )
      }
    }
    return .with { $0.payload = payload }
  }

  static let maxConcatBytes = 64 << 20

  func echoStream(
    request: RPCAsyncSequence<Rlhfd_V1_EchoRequest, any Error>,
    response: RPCWriter<Rlhfd_V1_EchoResponse>,
    context: ServerContext
  ) async throws {
    for try await message in request {
      try await response.write(.with { $0.payload = message.payload })
    }
  }
}
