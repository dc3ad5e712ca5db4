/// Per-id decoding facts copied out of the SentencePiece model once, so that streaming decode can
/// reproduce `SentencePieceProcessor::Decode` (0.1.97) piece by piece without calling into C.
///
/// The library's rules, mirrored here and in `IncrementalDecoder`:
/// - control pieces (`<s>`, `</s>`) decode to nothing; the unknown piece to its surface (` ⁇ `);
/// - consecutive byte pieces (`<0xE2>`) form one run, decoded one UTF-8 character at a time, each
///   invalid byte becoming U+FFFD;
/// - other pieces decode with `▁` replaced by a space, except that while decoding is "at the
///   beginning" the first piece loses one leading `▁` (when the model adds a dummy prefix).
struct PieceTable: Sendable {
  enum Kind: UInt8, Sendable {
    case text
    case byte
    case control
    case unknown
  }

  /// Kind of each id in `0..<count`.
  let kinds: [Kind]
  /// Surfaces: text pieces with `▁` already replaced by a space; one byte for byte pieces; the
  /// unknown surface for unknown pieces; empty for control pieces. Indexed through `offsets`.
  private let storage: [UInt8]
  private let offsets: [Int]
  /// Whether each text piece's surface begins with a space that came from `▁`.
  private let startsWithSpaceSymbol: [Bool]
  /// `add_dummy_prefix || remove_extra_whitespaces`: a leading `▁` is dropped at the beginning.
  let stripsLeadingSpace: Bool
  /// `remove_extra_whitespaces`: stripping continues until some text has been produced.
  let keepsStripping: Bool

  var count: Int { kinds.count }

  /// The longest surface of a text piece, in bytes.
  var longestTextSurface: Int {
    kinds.indices.lazy.filter { kinds[$0] == .text }.map { offsets[$0 + 1] - offsets[$0] }.max()
      ?? 1
  }

  init(model: SentencePieceModel) throws(TokenizerError) {
    let spaceSymbol: [UInt8] = [0xE2, 0x96, 0x81]
    var kinds: [Kind] = []
    var storage: [UInt8] = []
    var offsets: [Int] = [0]
    var startsWithSpace: [Bool] = []
    kinds.reserveCapacity(model.vocabSize)
    let unknownSurface = Array(try model.decode([max(model.unkID, 0)]).utf8)
    for id in 0..<Int32(model.vocabSize) {
      guard let piece = model.pieceBytes(id) else {
        throw TokenizerError(.invalidModel, "piece \(id) is unreadable")
      }
      var leadingSpace = false
      if model.isControl(id) {
        kinds.append(.control)
      } else if model.isUnknown(id) {
        kinds.append(.unknown)
        storage += unknownSurface
      } else if model.isByte(id), let byte = Self.byteValue(piece) {
        kinds.append(.byte)
        storage.append(byte)
      } else {
        kinds.append(.text)
        leadingSpace = piece.starts(with: spaceSymbol)
        storage += Self.replacingSpaceSymbol(piece)
      }
      startsWithSpace.append(leadingSpace)
      offsets.append(storage.count)
    }
    self.kinds = kinds
    self.storage = storage
    self.offsets = offsets
    self.startsWithSpaceSymbol = startsWithSpace
    self.stripsLeadingSpace = model.addsDummyPrefix || model.removesExtraWhitespaces
    self.keepsStripping = model.removesExtraWhitespaces
  }

  /// The surface bytes of `id`, as described on `storage`.
  func surface(_ id: Int) -> ArraySlice<UInt8> {
    storage[offsets[id]..<offsets[id + 1]]
  }

  func startsWithSpace(_ id: Int) -> Bool { startsWithSpaceSymbol[id] }

  /// `<0xAB>` → 0xAB.
  private static func byteValue(_ piece: [UInt8]) -> UInt8? {
    guard piece.count == 6, piece.starts(with: Array("<0x".utf8)), piece[5] == UInt8(ascii: ">")
    else { return nil }
    return UInt8(String(decoding: piece[3..<5], as: UTF8.self), radix: 16)
  }

  private static func replacingSpaceSymbol(_ piece: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(piece.count)
    var i = 0
    while i < piece.count {
      if i + 2 < piece.count, piece[i] == 0xE2, piece[i + 1] == 0x96, piece[i + 2] == 0x81 {
        out.append(0x20)
        i += 3
      } else {
        out.append(piece[i])
        i += 1
      }
    }
    return out
  }
}
