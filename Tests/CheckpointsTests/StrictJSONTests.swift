import Testing

// The strict header parser on its own: what it accepts, and exact texts it refuses.
@testable import Checkpoints

@Suite struct StrictJSONTests {
  private func parse(_ text: String) throws(JSONParseFailure) -> JSONValue {
    try StrictJSONParser.parse(Array(text.utf8))
  }

  @Test func parsesEveryKindOfValue() throws {
    let value = try parse(#" {"a": [1, -2.5e3, true, false, null, "x"], "b": {}, "c": [] } "#)
    #expect(
      value
        == .object([
          "a": .array([
            .number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null, .string("x"),
          ]),
          "b": .object([:]), "c": .array([]),
        ])
    )
  }

  @Test func decodesEscapesAndUnicode() throws {
    let value = try parse(#"["\"\\\/\b\f\n\r\t", "\u00e9\u6771", "\ud83d\ude42", "ünï 東京"]"#)
    #expect(
      value
        == .array([
          .string("\"\\/\u{8}\u{c}\n\r\t"), .string("é東"), .string("🙂"), .string("ünï 東京"),
        ])
    )
  }

  @Test(arguments: [
    "", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{1:2}", "tru", "nul", "01", "1.", ".5", "1e",
    "-", "+1",
    "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "[1] [2]", "{\"a\":1}}",
    "NaN",
  ])
  func refuses(_ text: String) {
    #expect(throws: JSONParseFailure.self) { try parse(text) }
  }

  @Test func duplicateKeysAreRefusedAtAnyDepth() {
    for text in [
      #"{"a":1,"a":1}"#, #"{"x":{"b":1,"b":2}}"#, #"[{"c":1,"c":1}]"#, #"{"\u0061":1,"a":2}"#,
    ] {
      do {
        _ = try parse(text)
        Issue.record("accepted \(text)")
      } catch {
        #expect(error.code == .duplicateKey, "\(text)")
      }
    }
  }

  @Test func integersAreReadExactly() throws {
    #expect(JSONValue.number("0").nonNegativeInteger == .value(0))
    #expect(JSONValue.number("9223372036854775807").nonNegativeInteger == .value(Int.max))
    #expect(JSONValue.number("9223372036854775808").nonNegativeInteger == .tooLarge)
    #expect(JSONValue.number("-3").nonNegativeInteger == .negative)
    #expect(JSONValue.number("3.0").nonNegativeInteger == .notInteger)
    #expect(JSONValue.number("3e2").nonNegativeInteger == .notInteger)
    #expect(JSONValue.string("3").nonNegativeInteger == .notANumber)
  }

  @Test func deepNestingIsRefusedNotOverflowed() {
    let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
    #expect(throws: JSONParseFailure.self) { try parse(deep) }
    let ok = String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
    #expect(throws: Never.self) { try parse(ok) }
  }
}
