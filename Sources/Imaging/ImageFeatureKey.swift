/// The image-feature cache key: the SHA-256 of the encoded image bytes, as lowercase hex (what
/// `Image.sha256` in requests carries).
public struct ImageFeatureKey: Sendable, Hashable, CustomStringConvertible {
  /// 64 lowercase hex digits.
  public let hex: String

  /// The key of encoded image bytes.
  public init(bytes: some Sequence<UInt8>) {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(64)
    for byte in SHA256.hash(bytes) {
      text += [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]]
    }
    self.hex = String(decoding: text, as: UTF8.self)
  }

  /// A key given as hex by a client; nil unless 64 hex digits (either case, stored lowercase).
  public init?(hex: String) {
    let lowered = hex.lowercased()
    guard lowered.utf8.count == 64, lowered.utf8.allSatisfy({ $0.isHexDigit }) else { return nil }
    self.hex = lowered
  }

  public var description: String { hex }
}

extension UInt8 {
  fileprivate var isHexDigit: Bool {
    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
      || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
  }
}
