/// Streaming detokenization: feed generated token ids one at a time and get back only text that
/// can no longer change. The concatenation of every `push` result followed by `finish()` equals
/// `SentencePieceTokenizer.decode(allIDs)` exactly.
///
/// It replays SentencePiece's decoder piece by piece (see `PieceTable`):
/// - byte-fallback pieces are held back while they form an incomplete but still valid UTF-8
///   prefix, and released as one character when it completes, or as U+FFFD per byte when the byte
///   run ends (a non-byte piece arrives, or `finish()`);
/// - the leading `▁` of the first piece is dropped once, as `decode` does;
/// - control pieces (`<s>`, `</s>`) produce no text, `<unk>` gives ` ⁇ `, and ids beyond the
///   SentencePiece vocabulary (added tokens such as `<image>`) are ignored as if absent.
///
/// A value type: each generation stream owns one.
public struct IncrementalDecoder: Sendable, CustomStringConvertible {
  private let table: PieceTable
  /// Bytes of the current byte-piece run not yet turned into text.
  private var pending: [UInt8] = []
  /// SentencePiece's `is_bos_ws`, `bos_ws_seen` and `text->empty()`.
  private var atBeginning = true
  private var sawLeadingSpace = false
  private var producedText = false

  init(table: PieceTable) {
    self.table = table
  }

  /// Feeds one id; returns the text it completes (often empty).
  public mutating func push(_ id: Int32) -> String {
    guard id >= 0, Int(id) < table.count else { return "" }
    var out: [UInt8] = []
    let kind = table.kinds[Int(id)]
    if kind == .byte {
      pending.append(contentsOf: table.surface(Int(id)))
      drainPending(into: &out, runEnded: false)
    } else {
      drainPending(into: &out, runEnded: true)
      appendPiece(Int(id), kind: kind, into: &out)
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// Feeds several ids; returns the concatenated deltas.
  public mutating func push(_ ids: some Sequence<Int32>) -> String {
    var text = ""
    for id in ids { text += push(id) }
    return text
  }

  /// Ends the stream: held-back bytes of an unfinished character become U+FFFD each.
  public mutating func finish() -> String {
    var out: [UInt8] = []
    drainPending(into: &out, runEnded: true)
    return String(decoding: out, as: UTF8.self)
  }

  /// Whether bytes are being held back waiting for the rest of a character.
  public var hasPendingBytes: Bool { !pending.isEmpty }

  public var description: String {
    "IncrementalDecoder(pending: \(pending.count) bytes, atBeginning: \(atBeginning))"
  }

  private mutating func appendPiece(_ id: Int, kind: PieceTable.Kind, into out: inout [UInt8]) {
    if sawLeadingSpace || producedText { atBeginning = false }
    var surface = table.surface(id)
    sawLeadingSpace = false
    if kind == .text, atBeginning, table.stripsLeadingSpace, table.startsWithSpace(id) {
      surface = surface.dropFirst()
      sawLeadingSpace = !table.keepsStripping
    }
    if !surface.isEmpty { producedText = true }
    out.append(contentsOf: surface)
  }

  private mutating func drainPending(into out: inout [UInt8], runEnded: Bool) {
    var offset = 0
    while offset < pending.count {
      let rest = pending[offset...]
      if !runEnded, SentencePieceUTF8.isIncompletePrefix(rest) { break }
      if let length = SentencePieceUTF8.validLength(rest) {
        out.append(contentsOf: rest.prefix(length))
        offset += length
      } else {
        out.append(contentsOf: SentencePieceUTF8.replacementCharacter)
        offset += 1
      }
    }
    if offset > 0 { producedText = true }
    pending.removeFirst(offset)
  }
}

/// SentencePiece's `DecodeUTF8` / `IsValidDecodeUTF8` (util.cc, 0.1.97), byte for byte.
enum SentencePieceUTF8 {
  static let replacementCharacter: [UInt8] = [0xEF, 0xBF, 0xBD]

  /// Bytes a character starting with `lead` needs, as the library's branches decide it.
  static func neededLength(_ lead: UInt8) -> Int {
    if lead < 0x80 { return 1 }
    if lead & 0xE0 == 0xC0 { return 2 }
    if lead & 0xF0 == 0xE0 { return 3 }
    if lead & 0xF8 == 0xF0 { return 4 }
    return 1
  }

  /// The length of the valid character at the start of `bytes`, or nil when the library would
  /// consume one byte as U+FFFD.
  static func validLength(_ bytes: ArraySlice<UInt8>) -> Int? {
    guard let lead = bytes.first else { return nil }
    let needed = neededLength(lead)
    if lead < 0x80 { return 1 }
    guard needed > 1, bytes.count >= needed else { return nil }
    return isValid(Array(bytes.prefix(needed))) ? needed : nil
  }

  /// Whether `bytes` is shorter than the character its lead byte announces and some completion
  /// of it would be valid, so a decoder must wait for more bytes before deciding.
  static func isIncompletePrefix(_ bytes: ArraySlice<UInt8>) -> Bool {
    guard let lead = bytes.first else { return false }
    let needed = neededLength(lead)
    guard needed > 1, bytes.count < needed else { return false }
    // Code points reachable from this prefix form an interval; the valid set is a union of
    // intervals whose pieces the endpoints of any such prefix interval reach.
    let low = Array(bytes) + Array(repeating: 0x80, count: needed - bytes.count)
    let high = Array(bytes) + Array(repeating: 0xBF, count: needed - bytes.count)
    return isValid(low) || isValid(high)
  }

  /// `bytes.count` equals the needed length of its lead byte.
  private static func isValid(_ bytes: [UInt8]) -> Bool {
    func trail(_ b: UInt8) -> Bool { b & 0xC0 == 0x80 }
    let c = bytes.map(UInt32.init)
    let cp: UInt32
    switch bytes.count {
    case 2:
      guard trail(bytes[1]) else { return false }
      cp = (c[0] & 0x1F) << 6 | (c[1] & 0x3F)
      return cp >= 0x80
    case 3:
      guard trail(bytes[1]), trail(bytes[2]) else { return false }
      cp = (c[0] & 0x0F) << 12 | (c[1] & 0x3F) << 6 | (c[2] & 0x3F)
      return cp >= 0x800 && (cp < 0xD800 || cp >= 0xE000)
    case 4:
      guard trail(bytes[1]), trail(bytes[2]), trail(bytes[3]) else { return false }
      cp = (c[0] & 0x07) << 18 | (c[1] & 0x3F) << 12 | (c[2] & 0x3F) << 6 | (c[3] & 0x3F)
      return cp >= 0x10000 && cp <= 0x10FFFF
    default:
      return false
    }
  }
}
