import CSentencePiece

/// The one Swift owner of a `csp_processor`. Everything C stays behind this type.
///
/// Thread safety: after loading, the library's processor is immutable and its encode, decode and
/// lookup methods are `const` with no mutable state (its Python binding encodes batches from a
/// thread pool sharing one processor), so concurrent calls are safe; the handle is freed only in
/// `deinit`, when no other reference can exist. Hence `@unchecked Sendable`.
final class SentencePieceModel: @unchecked Sendable {
  private let handle: OpaquePointer
  /// Number of pieces; ids are `0..<vocabSize`.
  let vocabSize: Int

  private static let errorCapacity = 512

  /// Loads a model file.
  convenience init(path: String, removeDummyPrefix: Bool = false) throws(TokenizerError) {
    let options = removeDummyPrefix ? UInt32(CSP_LOAD_NO_DUMMY_PREFIX) : 0
    let handle = try Self.load { err, cap in csp_load_file(path, options, err, cap) }
    self.init(handle: handle)
  }

  /// Loads a serialized model from memory.
  convenience init(bytes: [UInt8], removeDummyPrefix: Bool = false) throws(TokenizerError) {
    let options = removeDummyPrefix ? UInt32(CSP_LOAD_NO_DUMMY_PREFIX) : 0
    let handle = try Self.load { err, cap in
      bytes.withUnsafeBufferPointer { csp_load_bytes($0.baseAddress, $0.count, options, err, cap) }
    }
    self.init(handle: handle)
  }

  private init(handle: OpaquePointer) {
    self.handle = handle
    self.vocabSize = Int(csp_vocab_size(handle))
  }

  deinit {
    csp_free(handle)
  }

  private static func load(
    _ body: (UnsafeMutablePointer<CChar>, Int) -> OpaquePointer?
  ) throws(TokenizerError) -> OpaquePointer {
    var message = ""
    let handle = withErrorBuffer { err, cap in
      let handle = body(err, cap)
      if handle == nil { message = String(cString: err) }
      return handle
    }
    guard let handle else { throw TokenizerError(.invalidModel, message) }
    return handle
  }

  private static func withErrorBuffer<R>(
    _ body: (UnsafeMutablePointer<CChar>, Int) -> R
  ) -> R {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: errorCapacity) { buffer in
      buffer.initialize(repeating: 0)
      return body(buffer.baseAddress!, errorCapacity)
    }
  }

  var bosID: Int32 { csp_bos_id(handle) }
  var eosID: Int32 { csp_eos_id(handle) }
  var unkID: Int32 { csp_unk_id(handle) }
  var padID: Int32 { csp_pad_id(handle) }
  /// `normalizer_spec.add_dummy_prefix` of the loaded (possibly patched) model.
  var addsDummyPrefix: Bool { csp_decode_flags(handle) & UInt32(CSP_ADD_DUMMY_PREFIX) != 0 }
  /// `normalizer_spec.remove_extra_whitespaces`.
  var removesExtraWhitespaces: Bool {
    csp_decode_flags(handle) & UInt32(CSP_REMOVE_EXTRA_WHITESPACES) != 0
  }
  /// Whether a denormalizer rewrites decoded text (piece-wise streaming cannot reproduce it).
  var hasDenormalizer: Bool { csp_decode_flags(handle) & UInt32(CSP_HAS_DENORMALIZER) != 0 }

  func isByte(_ id: Int32) -> Bool { csp_is_byte(handle, id) != 0 }
  func isControl(_ id: Int32) -> Bool { csp_is_control(handle, id) != 0 }
  func isUnknown(_ id: Int32) -> Bool { csp_is_unknown(handle, id) != 0 }

  func id(ofPiece piece: String) -> Int32 {
    var piece = piece
    return piece.withUTF8 { csp_piece_to_id(handle, $0.baseAddress, $0.count) }
  }

  /// The raw UTF-8 bytes of a piece (with `▁` kept), or nil when `id` is out of range.
  func pieceBytes(_ id: Int32) -> [UInt8]? {
    var text: UnsafeMutablePointer<CChar>? = nil
    var count = 0
    let status = Self.withErrorBuffer { err, cap in
      csp_id_to_piece(handle, id, &text, &count, err, cap)
    }
    guard status == 0, let text else { return nil }
    defer { csp_free_string(text) }
    return UnsafeRawBufferPointer(start: text, count: count).map { $0 }
  }

  /// Encodes UTF-8 text without BOS/EOS.
  func encode(_ text: String) throws(TokenizerError) -> [Int32] {
    var text = text
    var ids: UnsafeMutablePointer<Int32>? = nil
    var count = 0
    var message = ""
    let status = text.withUTF8 { utf8 in
      Self.withErrorBuffer { err, cap in
        let status = csp_encode(handle, utf8.baseAddress, utf8.count, &ids, &count, err, cap)
        if status != 0 { message = String(cString: err) }
        return status
      }
    }
    guard status == 0 else { throw TokenizerError(.encodeFailed, message) }
    defer { csp_free_ids(ids) }
    return Array(UnsafeBufferPointer(start: ids, count: count))
  }

  /// Decodes ids in `0..<vocabSize` with the library's own rules.
  func decode(_ ids: [Int32]) throws(TokenizerError) -> String {
    var text: UnsafeMutablePointer<CChar>? = nil
    var count = 0
    var message = ""
    let status = ids.withUnsafeBufferPointer { ids in
      Self.withErrorBuffer { err, cap in
        let status = csp_decode(handle, ids.baseAddress, ids.count, &text, &count, err, cap)
        if status != 0 { message = String(cString: err) }
        return status
      }
    }
    guard status == 0, let text else { throw TokenizerError(.invalidID, message) }
    defer { csp_free_string(text) }
    return String(decoding: UnsafeRawBufferPointer(start: text, count: count), as: UTF8.self)
  }
}
