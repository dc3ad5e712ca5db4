import API
import SwiftProtobuf
import Testing

@testable import Services

/// Server reflection's answers from the embedded descriptor set (the wire end to end:
/// Tests/Interop/test_reflection.py with grpcio-reflection).
@Suite struct ReflectionServiceTests {
  let service = ReflectionService(services: ServiceCatalog.serviceNames(debug: false))

  func ask(_ fill: (inout Grpc_Reflection_V1_ServerReflectionRequest) -> Void)
    -> Grpc_Reflection_V1_ServerReflectionResponse
  {
    var sent = Set<String>()
    return service.answer(.with(fill), sent: &sent)
  }

  @Test func indexesEveryServedSymbol() {
    let index = DescriptorIndex.api
    for name in ServiceCatalog.serviceNames(debug: true) {
      #expect(index.symbols[name] != nil, "\(name)")
    }
    #expect(index.symbols["rlhfd.v1.Policy.Generate"] == "rlhfd/v1/policy.proto")
    #expect(index.symbols["grpc.health.v1.HealthCheckResponse.ServingStatus"] != nil)
  }

  @Test func aSymbolBringsItsFileAndImportsOnce() {
    var sent = Set<String>()
    let first = service.answer(.with { $0.fileContainingSymbol = "rlhfd.v1.Policy" }, sent: &sent)
    let files = first.fileDescriptorResponse.fileDescriptorProto
    #expect(files.count >= 2 && sent.contains("rlhfd/v1/policy.proto"))
    // The imports were sent on this stream: asking for another file that shares them sends
    // only what is new; a file asked for by name is always sent.
    let again = service.answer(.with { $0.fileByFilename = "rlhfd/v1/policy.proto" }, sent: &sent)
    #expect(again.fileDescriptorResponse.fileDescriptorProto.count == 1)
  }

  @Test func listsServicesAndRefusesUnknowns() {
    let listed = ask { $0.listServices = "" }.listServicesResponse.service.map(\.name)
    #expect(Set(listed) == Set(ServiceCatalog.serviceNames(debug: false)))
    #expect(ask { $0.fileContainingSymbol = "x.Y" }.errorResponse.errorCode == 5)
    #expect(ask { $0.fileByFilename = "x.proto" }.errorResponse.errorCode == 5)
    #expect(ask { _ in }.errorResponse.errorCode == 3)
  }
}
