// Conversions between C-core values and Swift values, in one place.
internal import CGRPC
internal import CGRPCShim
import GRPCCore

extension String {
  /// Decodes a slice as UTF-8 (invalid bytes are repaired, never trapped on).
  init(slice: UnsafePointer<grpc_slice>) {
    let buffer = UnsafeBufferPointer(
      start: cgrpc_slice_start(slice),
      count: cgrpc_slice_length(slice)
    )
    self = String(decoding: buffer, as: UTF8.self)
  }
}

extension Array where Element == UInt8 {
  init(slice: UnsafePointer<grpc_slice>) {
    self = Array(
      UnsafeBufferPointer(start: cgrpc_slice_start(slice), count: cgrpc_slice_length(slice))
    )
  }

  /// Copies a received message's payload (decompressed) into an array: one copy.
  init(_ buffer: UnsafeMutablePointer<grpc_byte_buffer>) {
    let count = cgrpc_byte_buffer_payload_length(buffer)
    self.init(unsafeUninitializedCapacity: count) { storage, initialized in
      initialized = count == 0 ? 0 : cgrpc_byte_buffer_copy(buffer, storage.baseAddress, count)
    }
  }
}

extension Metadata {
  /// Request metadata as the core delivers it; `-bin` values arrive already base64-decoded.
  init(_ array: grpc_metadata_array) {
    self.init()
    for index in 0..<array.count {
      var entry = array.metadata[index]
      let key = withUnsafePointer(to: &entry.key) { String(slice: $0) }
      if key.hasSuffix("-bin") {
        self.addBinary(withUnsafePointer(to: &entry.value) { [UInt8](slice: $0) }, forKey: key)
      } else {
        self.addString(withUnsafePointer(to: &entry.value) { String(slice: $0) }, forKey: key)
      }
    }
  }
}

/// Adds each entry to a batch through `add` (initial or trailing); entries past the batch's
/// capacity are dropped, and names reserved by gRPC or HTTP/2 are skipped: the core rejects them.
func addMetadata(
  _ metadata: Metadata,
  to batch: UnsafeMutablePointer<cgrpc_batch>,
  using add: (
    UnsafeMutablePointer<cgrpc_batch>, UnsafePointer<CChar>, Int, UnsafePointer<UInt8>?, Int
  ) -> Int32
) {
  for (key, value) in metadata {
    let lowered = key.lowercased()
    if lowered.hasPrefix("grpc-") || lowered.hasPrefix(":") || lowered == "content-type"
      || lowered == "te"
    {
      continue
    }
    let bytes: [UInt8]
    switch value {
    case .string(let string): bytes = Array(string.utf8)
    case .binary(let binary): bytes = binary
    }
    let added = lowered.withCString { keyPointer in
      bytes.withUnsafeBufferPointer {
        add(batch, keyPointer, lowered.utf8.count, $0.baseAddress, $0.count)
      }
    }
    if added != 0 { return }
  }
}
