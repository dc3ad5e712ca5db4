// A strict JSON reader for safetensors headers and shard indexes. Foundation's decoders accept
// duplicate keys (JSONSerialization keeps the last value, JSONDecoder the first), so a crafted
// header could mean one thing to us and another to a Python loader; this parser rejects them,
// keeps numbers as their exact text, limits nesting, and rejects trailing bytes other than
// whitespace (safetensors pads headers with spaces).

/// A parsed JSON value. Numbers keep their source text so that integers are never rounded.
enum JSONValue: Equatable, Sendable {
  case null
  case bool(Bool)
  case number(String)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  var typeName: String {
    switch self {
    case .null: "null"
    case .bool: "a boolean"
    case .number(let text): "the number \(text)"
    case .string: "a string"
    case .array: "an array"
    case .object: "an object"
    }
  }
}

/// Why a JSON text was refused, with the byte offset where the parser stopped.
struct JSONParseFailure: Error {
  var code: CheckpointError.Code
  var offset: Int
  var reason: String
}

/// What a JSON number means as a count or offset.
enum JSONInteger: Equatable {
  case value(Int)
  case negative
  case notInteger
  case tooLarge
  case notANumber
}

extension JSONValue {
  /// Reads a non-negative integer written without fraction or exponent (`0`, `17`; not `1.0`).
  var nonNegativeInteger: JSONInteger {
    guard case .number(let text) = self else { return .notANumber }
    if text.hasPrefix("-") {
      return text.allSatisfy { $0 == "-" || $0 == "0" } ? .value(0) : .negative
    }
    guard text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return .notInteger }
    var result = 0
    for digit in text.utf8 {
      let (times10, o1) = result.multipliedReportingOverflow(by: 10)
      let (sum, o2) = times10.addingReportingOverflow(Int(digit - 0x30))
      if o1 || o2 { return .tooLarge }
      result = sum
    }
    return .value(result)
  }
}

struct StrictJSONParser {
  static let maxDepth = 64
  private let bytes: UnsafeRawBufferPointer
  private var position = 0

  private init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

  /// Parses one JSON value that must fill `bytes`, apart from surrounding whitespace.
  static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseFailure) -> JSONValue {
    var parser = StrictJSONParser(bytes)
    parser.skipWhitespace()
    let value = try parser.parseValue(depth: 0)
    parser.skipWhitespace()
    if parser.position != bytes.count {
      throw parser.failure("trailing bytes after the JSON value")
    }
    return value
  }

  static func parse(_ bytes: [UInt8]) throws(JSONParseFailure) -> JSONValue {
    let result = bytes.withUnsafeBytes { buffer in
      Result { () throws(JSONParseFailure) in try parse(buffer) }
    }
    return try result.get()
  }

  private func failure(_ reason: String, code: CheckpointError.Code = .invalidJSON)
    -> JSONParseFailure
  {
    JSONParseFailure(code: code, offset: position, reason: reason)
  }

  private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

  private mutating func skipWhitespace() {
    while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
      position += 1
    }
  }

  private mutating func expect(_ literal: StaticString) throws(JSONParseFailure) {
    let text = UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
    guard position + text.count <= bytes.count,
      bytes[position..<position + text.count].elementsEqual(text)
    else { throw failure("invalid literal (expected \(literal))") }
    position += text.count
  }

  private mutating func parseValue(depth: Int) throws(JSONParseFailure) -> JSONValue {
    guard let byte = current else { throw failure("unexpected end of input") }
    switch byte {
    case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
    case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
    case UInt8(ascii: "\""): return .string(try parseString())
    case UInt8(ascii: "t"):
      try expect("true")
      return .bool(true)
    case UInt8(ascii: "f"):
      try expect("false")
      return .bool(false)
    case UInt8(ascii: "n"):
      try expect("null")
      return .null
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
    default: throw failure("unexpected byte 0x\(String(byte, radix: 16))")
    }
  }

  private mutating func parseObject(depth: Int) throws(JSONParseFailure) -> JSONValue {
    if depth > Self.maxDepth { throw failure("nesting deeper than \(Self.maxDepth)") }
    position += 1
    var members: [String: JSONValue] = [:]
    skipWhitespace()
    if current == UInt8(ascii: "}") {
      position += 1
      return .object(members)
    }
    while true {
      skipWhitespace()
      guard current == UInt8(ascii: "\"") else { throw failure("expected a string key") }
      let keyOffset = position
      let key = try parseString()
      skipWhitespace()
      guard current == UInt8(ascii: ":") else { throw failure("expected ':' after key") }
      position += 1
      skipWhitespace()
      let value = try parseValue(depth: depth)
      if members.updateValue(value, forKey: key) != nil {
        throw JSONParseFailure(
          code: .duplicateKey,
          offset: keyOffset,
          reason: "duplicate key '\(key)'"
        )
      }
      skipWhitespace()
      switch current {
      case UInt8(ascii: ","): position += 1
      case UInt8(ascii: "}"):
        position += 1
        return .object(members)
      default: throw failure("expected ',' or '}' in object")
      }
    }
  }

  private mutating func parseArray(depth: Int) throws(JSONParseFailure) -> JSONValue {
    if depth > Self.maxDepth { throw failure("nesting deeper than \(Self.maxDepth)") }
    position += 1
    var elements: [JSONValue] = []
    skipWhitespace()
    if current == UInt8(ascii: "]") {
      position += 1
      return .array(elements)
    }
    while true {
      skipWhitespace()
      elements.append(try parseValue(depth: depth))
      skipWhitespace()
      switch current {
      case UInt8(ascii: ","): position += 1
      case UInt8(ascii: "]"):
        position += 1
        return .array(elements)
      default: throw failure("expected ',' or ']' in array")
      }
    }
  }

  private mutating func parseNumber() throws(JSONParseFailure) -> String {
    let start = position
    if current == UInt8(ascii: "-") { position += 1 }
    if current == UInt8(ascii: "0") {
      position += 1
    } else if !skipDigits() {
      throw failure("invalid number")
    }
    if current == UInt8(ascii: ".") {
      position += 1
      if !skipDigits() { throw failure("invalid number: no digits after '.'") }
    }
    if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
      position += 1
      if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
      if !skipDigits() { throw failure("invalid number: no digits in exponent") }
    }
    return String(decoding: bytes[start..<position], as: UTF8.self)
  }

  /// Skips `[0-9]+`; false when there is no digit.
  private mutating func skipDigits() -> Bool {
    let start = position
    while let byte = current, byte >= 0x30, byte <= 0x39 { position += 1 }
    return position > start
  }

  private mutating func parseString() throws(JSONParseFailure) -> String {
    position += 1
    var utf8: [UInt8] = []
    while true {
      guard let byte = current else { throw failure("unterminated string") }
      position += 1
      switch byte {
      case UInt8(ascii: "\""):
        guard let text = String(validating: utf8, as: UTF8.self) else {
          throw failure("string is not valid UTF-8")
        }
        return text
      case UInt8(ascii: "\\"): try parseEscape(into: &utf8)
      case 0..<0x20: throw failure("unescaped control character in string")
      default: utf8.append(byte)
      }
    }
  }

  private mutating func parseEscape(into utf8: inout [UInt8]) throws(JSONParseFailure) {
    guard let byte = current else { throw failure("unterminated escape") }
    position += 1
    let simple: UInt8? =
      switch byte {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): byte
      case UInt8(ascii: "b"): 0x08
      case UInt8(ascii: "f"): 0x0C
      case UInt8(ascii: "n"): 0x0A
      case UInt8(ascii: "r"): 0x0D
      case UInt8(ascii: "t"): 0x09
      default: nil
      }
    if let simple {
      utf8.append(simple)
      return
    }
    guard byte == UInt8(ascii: "u") else {
      throw failure("invalid escape '\\\(Character(.init(byte)))'")
    }
    var scalar = try parseHex4()
    if (0xD800..<0xDC00).contains(scalar) {
      guard current == UInt8(ascii: "\\") else {
        throw failure("lone high surrogate in \\u escape")
      }
      position += 1
      guard current == UInt8(ascii: "u") else { throw failure("lone high surrogate in \\u escape") }
      position += 1
      let low = try parseHex4()
      guard (0xDC00..<0xE000).contains(low) else { throw failure("invalid surrogate pair") }
      scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
    } else if (0xDC00..<0xE000).contains(scalar) {
      throw failure("lone low surrogate in \\u escape")
    }
    guard let unicode = Unicode.Scalar(scalar) else { throw failure("invalid \\u escape") }
    utf8.append(contentsOf: Array(String(Character(unicode)).utf8))
  }

  private mutating func parseHex4() throws(JSONParseFailure) -> UInt32 {
    var value: UInt32 = 0
    for _ in 0..<4 {
      guard let byte = current, let digit = Self.hexValue(byte) else {
        throw failure("invalid \\u escape: expected 4 hex digits")
      }
      value = value << 4 | UInt32(digit)
      position += 1
    }
    return value
  }

  private static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: byte - 0x30
    case 0x41...0x46: byte - 0x41 + 10
    case 0x61...0x66: byte - 0x61 + 10
    default: nil
    }
  }
}
