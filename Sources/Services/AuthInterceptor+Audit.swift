// The audit log: one `audit` line at notice per Admin RPC and per refused call, with the token's
// name (`-` when there was no valid token), the method and the final status code (`OK`,
// `PERMISSION_DENIED`, ...). `request_id` comes from the logging metadata provider (the request
// id interceptor runs first). The token text is never part of it.
public import GRPCCore
public import Logging

extension AuthInterceptor {
  static func audit(_ logger: Logger, name: String?, method: String, code: RPCError.Code?) {
    logger.notice(
      "audit",
      metadata: [
        "token_name": .string(name ?? "-"), "method": .string(method),
        "code": .string(Self.statusName(code)),
      ]
    )
  }

  /// The canonical gRPC name of a code (`PERMISSION_DENIED`); nil is `OK`.
  static func statusName(_ code: RPCError.Code?) -> String {
    guard let code else { return "OK" }
    var name = ""
    for character in "\(code)" {
      if character.isUppercase { name.append("_") }
      name.append(contentsOf: character.uppercased())
    }
    return name
  }

  /// Runs `next` and calls `finished` once with the call's final code (nil = OK), whether the
  /// handler throws, refuses or fails while producing its messages.
  static func observing<Input: Sendable, Output: Sendable>(
    _ next:
      @Sendable (StreamingServerRequest<Input>, ServerContext) async throws ->
      StreamingServerResponse<Output>,
    _ request: StreamingServerRequest<Input>,
    _ context: ServerContext,
    finished: @escaping @Sendable (RPCError.Code?) -> Void
  ) async throws -> StreamingServerResponse<Output> {
    var response: StreamingServerResponse<Output>
    do { response = try await next(request, context) } catch let error as RPCError {
      finished(error.code)
      throw error
    } catch {
      finished(.unknown)
      throw error
    }
    switch response.accepted {
    case .success(var contents):
      let producer = contents.producer
      contents.producer = { writer in
        do {
          let trailers = try await producer(writer)
          finished(nil)
          return trailers
        } catch let error as RPCError {
          finished(error.code)
          throw error
        } catch {
          finished(.unknown)
          throw error
        }
      }
      response.accepted = .success(contents)
    case .failure(let error):
      finished(error.code)
    }
    return response
  }
}
