// Writing JSON text: the one string quoting of what rlhfd writes as JSON (PEFT adapter configs,
// safetensors headers, JSON log lines). Reading JSON is StrictJSON's.

public enum JSONText {
  /// `text` as a JSON string literal: RFC 8259's escapes for `"`, `\\` and control characters;
  /// every other character as it is (UTF-8 output).
  public static func quoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20:
        let hex = String(scalar.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }
}
