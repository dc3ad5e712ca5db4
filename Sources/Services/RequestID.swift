// A request id for every RPC: the client's `x-request-id` when it sends a usable one, else a
// new random one; returned in the response's initial metadata (or the error's trailers) and
// set as a task-local for the handler's whole run, so every log line of the request carries it
// (`RequestID.metadataProvider` in the logging bootstrap). vLLM and TGI answer `x-request-id`
// the same way.
public import GRPCCore
public import Logging

public enum RequestID {
  /// The id of the RPC this task serves, if any.
  @TaskLocal public static var current: String?

  /// The metadata key, in requests and responses.
  public static let key = "x-request-id"

  /// Adds `request_id` to log lines emitted inside an RPC.
  public static let metadataProvider = Logger.MetadataProvider {
    guard let id = RequestID.current else { return [:] }
    return ["request_id": .string(id)]
  }

  /// The client's id when it is 1–128 printable ASCII characters (no spaces), else nil.
  static func accepted(_ value: String?) -> String? {
    guard let value, !value.isEmpty, value.utf8.count <= 128,
      value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
    else { return nil }
    return value
  }

  /// 16 random hex digits.
  static func make() -> String {
    let value = UInt64.random(in: .min ... .max)
    let hex = String(value, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
  }
}

/// Sets the request id for the handler, returns it in the response metadata, and logs each
/// finished RPC at `debug` (method, status, milliseconds: an access log with the id).
public struct RequestIDInterceptor: ServerInterceptor {
  let logger: Logger

  public init(logger: Logger) { self.logger = logger }

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next:
      @Sendable (StreamingServerRequest<Input>, ServerContext) async throws ->
      StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let sent = request.metadata[stringValues: RequestID.key].first(where: { _ in true })
    let id = RequestID.accepted(sent) ?? RequestID.make()
    let (started, method, logger) = (
      ContinuousClock.now, context.descriptor.fullyQualifiedMethod, logger
    )
    @Sendable func finished(_ code: String) {
      // The access log is at debug: its figures are computed only when that level is on.
      logger.debug(
        "rpc",
        metadata: [
          "method": .string(method), "code": .string(code),
          "ms": "\((ContinuousClock.now - started) / .milliseconds(1))",
        ]
      )
    }
    return try await RequestID.$current.withValue(id) {
      var response: StreamingServerResponse<Output>
      do { response = try await next(request, context) } catch var error as RPCError {
        // A handler that throws before responding (unary handlers do) ends with trailers.
        error.metadata.replaceOrAddString(id, forKey: RequestID.key)
        finished("\(error.code)")
        throw error
      }
      switch response.accepted {
      case .success(var contents):
        contents.metadata.replaceOrAddString(id, forKey: RequestID.key)
        let producer = contents.producer
        contents.producer = { writer in
          try await RequestID.$current.withValue(id) {
            do {
              let trailers = try await producer(writer)
              finished("ok")
              return trailers
            } catch var error as RPCError {
              // A handler's error ends the call with trailers only: the id goes there too.
              error.metadata.replaceOrAddString(id, forKey: RequestID.key)
              finished("\(error.code)")
              throw error
            } catch {
              finished("unknown")
              throw error
            }
          }
        }
        response.accepted = .success(contents)
      case .failure(var error):
        error.metadata.replaceOrAddString(id, forKey: RequestID.key)
        finished("\(error.code)")
        response.accepted = .failure(error)
      }
      return response
    }
  }
}
