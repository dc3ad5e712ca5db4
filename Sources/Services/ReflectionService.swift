// gRPC server reflection (grpc.reflection.v1): tools such as grpcurl, grpcui and Postman list
// the served services and fetch their .proto descriptors, so they can call any RPC without the
// protos at hand. The descriptors are the ones the API was generated from
// (`APIDescriptors`, embedded by scripts/generate-protos.sh).
import API
import Foundation
import GRPCCore
import SwiftProtobuf

/// The descriptors by file and by symbol.
struct DescriptorIndex: Sendable {
  /// Serialized FileDescriptorProto and direct dependencies, by file name.
  private(set) var files: [String: (bytes: [UInt8], dependencies: [String])] = [:]
  /// The file declaring each fully qualified symbol (messages, enums, services, methods).
  private(set) var symbols: [String: String] = [:]

  /// The API's own descriptors; a broken embedded set is a build defect (checked by tests).
  static let api: DescriptorIndex = {
    do { return try DescriptorIndex(base64: APIDescriptors.fileDescriptorSetBase64) } catch {
      preconditionFailure("the embedded descriptor set does not parse: \(error)")
    }
  }()

  init(base64: String) throws {
    let compact = base64.filter { !$0.isWhitespace }
    guard let data = Data(base64Encoded: compact) else {
      throw RPCError(code: .internalError, message: "descriptor set is not base64")
    }
    let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: data)
    for file in set.file {
      files[file.name] = (try file.serializedBytes(), file.dependency)
      let prefix = file.package.isEmpty ? "" : file.package + "."
      for message in file.messageType { index(message, prefix: prefix, file: file.name) }
      for item in file.enumType { symbols[prefix + item.name] = file.name }
      for service in file.service {
        symbols[prefix + service.name] = file.name
        for method in service.method {
          symbols[prefix + service.name + "." + method.name] = file.name
        }
      }
    }
  }

  private mutating func index(
    _ message: Google_Protobuf_DescriptorProto,
    prefix: String,
    file: String
  ) {
    let name = prefix + message.name
    symbols[name] = file
    for nested in message.nestedType { index(nested, prefix: name + ".", file: file) }
    for item in message.enumType { symbols[name + "." + item.name] = file }
  }

  /// `name` and its transitive dependencies, the file first, each once, skipping `sent`.
  func closure(of name: String, skipping sent: inout Set<String>) -> [[UInt8]] {
    var out: [[UInt8]] = []
    var pending = [name]
    while let next = pending.first {
      pending.removeFirst()
      guard !sent.contains(next), let file = files[next] else { continue }
      sent.insert(next)
      out.append(file.bytes)
      pending += file.dependencies
    }
    return out
  }
}

struct ReflectionService: Grpc_Reflection_V1_ServerReflection.SimpleServiceProtocol {
  /// Fully qualified names of the services this server runs (reflection included).
  let services: [String]
  var index = DescriptorIndex.api

  func serverReflectionInfo(
    request: RPCAsyncSequence<Grpc_Reflection_V1_ServerReflectionRequest, any Error>,
    response: RPCWriter<Grpc_Reflection_V1_ServerReflectionResponse>,
    context: ServerContext
  ) async throws {
    var sent = Set<String>()
    for try await message in request {
      try await response.write(answer(message, sent: &sent))
    }
  }

  func answer(
    _ request: Grpc_Reflection_V1_ServerReflectionRequest,
    sent: inout Set<String>
  ) -> Grpc_Reflection_V1_ServerReflectionResponse {
    var reply = Grpc_Reflection_V1_ServerReflectionResponse()
    reply.validHost = request.host
    reply.originalRequest = request
    func files(_ name: String) {
      // A file already sent on this stream is still sent when asked for by name.
      sent.remove(name)
      reply.fileDescriptorResponse = .with {
        $0.fileDescriptorProto = index.closure(of: name, skipping: &sent).map { Data($0) }
      }
    }
    func notFound(_ message: String) {
      reply.errorResponse = .with {
        $0.errorCode = Int32(RPCError.Code.notFound.rawValue)
        $0.errorMessage = message
      }
    }
    switch request.messageRequest {
    case .listServices:
      reply.listServicesResponse = .with {
        $0.service = services.sorted().map { name in .with { $0.name = name } }
      }
    case .fileByFilename(let name):
      if index.files[name] != nil { files(name) } else { notFound("no file '\(name)'") }
    case .fileContainingSymbol(let symbol):
      if let file = index.symbols[symbol] { files(file) } else { notFound("no symbol '\(symbol)'") }
    case .fileContainingExtension(let request):
      notFound("no extension \(request.extensionNumber) of '\(request.containingType)'")
    case .allExtensionNumbersOfType(let type):
      if index.symbols[type] != nil {
        reply.allExtensionNumbersResponse = .with { $0.baseTypeName = type }
      } else {
        notFound("no type '\(type)'")
      }
    case nil:
      reply.errorResponse = .with {
        $0.errorCode = Int32(RPCError.Code.invalidArgument.rawValue)
        $0.errorMessage = "the request sets none of message_request's fields"
      }
    }
    return reply
  }
}

/// grpc.reflection.v1alpha, answered by `ReflectionService`: each message is re-read as its
/// v1 twin (the two protos differ only in their package, so the bytes are the same).
struct ReflectionServiceV1Alpha: Grpc_Reflection_V1alpha_ServerReflection.SimpleServiceProtocol {
  let v1: ReflectionService

  func serverReflectionInfo(
    request: RPCAsyncSequence<Grpc_Reflection_V1alpha_ServerReflectionRequest, any Error>,
    response: RPCWriter<Grpc_Reflection_V1alpha_ServerReflectionResponse>,
    context: ServerContext
  ) async throws {
    var sent = Set<String>()
    for try await message in request {
      let asked = try Grpc_Reflection_V1_ServerReflectionRequest(
        serializedBytes: try message.serializedBytes() as [UInt8]
      )
      let answer = v1.answer(asked, sent: &sent)
      try await response.write(
        Grpc_Reflection_V1alpha_ServerReflectionResponse(
          serializedBytes: try answer.serializedBytes() as [UInt8]
        )
      )
    }
  }
}
