// research/reliability.md G1: one malformed file per validation rule, each rejected with its
// own error code (never a trap), plus the edge cases the format allows.
import Checkpoints
import Testing

struct MalformedFile: Sendable, CustomTestStringConvertible {
  var label: String
  var bytes: [UInt8]
  var code: CheckpointError.Code
  var messageContains: String

  var testDescription: String { label }

  init(
    _ label: String,
    _ bytes: [UInt8],
    _ code: CheckpointError.Code,
    _ messageContains: String = ""
  ) {
    self.label = label
    self.bytes = bytes
    self.code = code
    self.messageContains = messageContains
  }
}

private func tensorJSON(_ dtype: String, _ shape: String, _ offsets: String) -> String {
  "{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":\(offsets)}"
}

private func one(_ dtype: String, _ shape: String, _ offsets: String, data: Int) -> [UInt8] {
  SafeTensorsWriter.raw(
    header: "{\"t\":\(tensorJSON(dtype, shape, offsets))}",
    data: [UInt8](repeating: 0, count: data)
  )
}

private func two(_ a: String, _ b: String, data: Int) -> [UInt8] {
  let header = "{\"a\":\(tensorJSON("F32", "[2]", a)),\"b\":\(tensorJSON("F32", "[2]", b))}"
  return SafeTensorsWriter.raw(header: header, data: [UInt8](repeating: 0, count: data))
}

private let g1Cases: [MalformedFile] = [
  MalformedFile("truncated file (< 8 bytes)", [1, 2, 3], .truncated, "too short"),
  MalformedFile("empty file", [], .truncated),
  MalformedFile(
    "header length > file size",
    SafeTensorsWriter.raw(header: "{}", length: 100),
    .truncated,
    "runs past"
  ),
  MalformedFile(
    "header length over the cap",
    SafeTensorsWriter.raw(header: "{}", length: 200_000_000),
    .headerTooLarge,
    "cap"
  ),
  MalformedFile(
    "header length + 8 overflows",
    SafeTensorsWriter.raw(header: "{}", length: .max - 3),
    .headerTooLarge
  ),
  MalformedFile(
    "header not starting with '{'",
    SafeTensorsWriter.raw(header: " {}"),
    .invalidJSON,
    "'{'"
  ),
  MalformedFile("non-object header", SafeTensorsWriter.raw(header: "[]"), .invalidJSON),
  MalformedFile(
    "non-UTF-8 header",
    SafeTensorsWriter.raw(headerBytes: Array("{\"".utf8) + [0xFF, 0xFE] + Array("\":1}".utf8)),
    .invalidJSON,
    "UTF-8"
  ),
  MalformedFile("bad JSON", SafeTensorsWriter.raw(header: "{\"a\":"), .invalidJSON),
  MalformedFile(
    "trailing garbage after the JSON",
    SafeTensorsWriter.raw(header: "{} x"),
    .invalidJSON,
    "trailing"
  ),
  MalformedFile("leading zero in a number", one("F32", "[01]", "[0,4]", data: 4), .invalidJSON),
  MalformedFile(
    "nesting too deep",
    SafeTensorsWriter.raw(
      header: "{\"__metadata__\":" + String(repeating: "[", count: 100)
        + String(repeating: "]", count: 100) + "}"
    ),
    .invalidJSON,
    "nesting"
  ),
  MalformedFile(
    "duplicate tensor name",
    SafeTensorsWriter.raw(
      header:
        "{\"t\":\(tensorJSON("F32", "[0]", "[0,0]")),\"t\":\(tensorJSON("F32", "[0]", "[0,0]"))}"
    ),
    .duplicateKey,
    "'t'"
  ),
  MalformedFile(
    "duplicate field inside a tensor",
    SafeTensorsWriter.raw(
      header: "{\"t\":{\"dtype\":\"F32\",\"dtype\":\"I64\",\"shape\":[0],\"data_offsets\":[0,0]}}"
    ),
    .duplicateKey,
    "'dtype'"
  ),
  MalformedFile(
    "duplicate key in __metadata__",
    SafeTensorsWriter.raw(header: "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}"),
    .duplicateKey
  ),
  MalformedFile("unknown dtype", one("F7", "[1]", "[0,4]", data: 4), .unknownDType, "'F7'"),
  MalformedFile(
    "negative dimension",
    one("F32", "[-1,2]", "[0,4]", data: 4),
    .invalidShape,
    "negative"
  ),
  MalformedFile(
    "fractional dimension",
    one("F32", "[1.0]", "[0,4]", data: 4),
    .invalidShape,
    "non-integer"
  ),
  MalformedFile("string dimension", one("F32", "[\"1\"]", "[0,4]", data: 4), .invalidShape),
  MalformedFile(
    "dimension beyond Int",
    one("F32", "[99999999999999999999]", "[0,4]", data: 4),
    .overflow
  ),
  MalformedFile(
    "shape product overflows",
    one("F32", "[4294967296,4294967296]", "[0,4]", data: 4),
    .overflow
  ),
  MalformedFile(
    "byte size overflows",
    one("F32", "[2305843009213693952]", "[0,4]", data: 4),
    .overflow
  ),
  MalformedFile(
    "bits not divisible by 8 (F4 × 3)",
    one("F4", "[3]", "[0,2]", data: 2),
    .sizeMismatch,
    "whole bytes"
  ),
  MalformedFile(
    "shape and size disagree",
    one("F32", "[2]", "[0,4]", data: 4),
    .sizeMismatch,
    "needs 8 bytes"
  ),
  MalformedFile(
    "end before begin",
    one("F32", "[0]", "[8,4]", data: 8),
    .invalidOffsets,
    "before begin"
  ),
  MalformedFile("negative offset", one("F32", "[1]", "[-4,0]", data: 4), .invalidOffsets),
  MalformedFile("three offsets", one("F32", "[1]", "[0,4,8]", data: 4), .invalidOffsets),
  MalformedFile(
    "offsets out of the file",
    one("F32", "[2]", "[0,8]", data: 4),
    .invalidOffsets,
    "past the data"
  ),
  MalformedFile("overlapping tensors", two("[0,8]", "[4,12]", data: 12), .overlap, "overlaps"),
  MalformedFile("same bytes twice", two("[0,8]", "[0,8]", data: 8), .overlap),
  MalformedFile("hole between tensors", two("[0,8]", "[12,20]", data: 20), .hole, "8..<12"),
  MalformedFile(
    "hole before the first tensor",
    one("F32", "[1]", "[4,8]", data: 8),
    .hole,
    "0..<4"
  ),
  MalformedFile(
    "trailing bytes after the last tensor",
    one("F32", "[1]", "[0,4]", data: 8),
    .hole,
    "4..<8"
  ),
  MalformedFile(
    "tensor entry not an object",
    SafeTensorsWriter.raw(header: "{\"t\":1}"),
    .invalidHeader
  ),
  MalformedFile(
    "unknown field in a tensor",
    SafeTensorsWriter.raw(
      header: "{\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0],\"x\":1}}"
    ),
    .invalidHeader,
    "x"
  ),
  MalformedFile(
    "dtype missing",
    SafeTensorsWriter.raw(header: "{\"t\":{\"shape\":[0],\"data_offsets\":[0,0]}}"),
    .invalidHeader
  ),
  MalformedFile(
    "metadata with a non-string value",
    SafeTensorsWriter.raw(header: "{\"__metadata__\":{\"format\":1}}"),
    .invalidMetadata,
    "format"
  ),
  MalformedFile(
    "metadata not an object",
    SafeTensorsWriter.raw(header: "{\"__metadata__\":\"pt\"}"),
    .invalidMetadata
  ),
  MalformedFile(
    "lone surrogate escape",
    SafeTensorsWriter.raw(header: "{\"\\ud800\":1}"),
    .invalidJSON,
    "surrogate"
  ),
  MalformedFile(
    "raw control character in a string",
    SafeTensorsWriter.raw(header: "{\"a\tb\":1}"),
    .invalidJSON
  ),
]

@Suite struct SafeTensorsValidationTests {
  @Test(arguments: g1Cases)
  func rejects(_ malformed: MalformedFile) {
    let error = checkpointError {
      _ = try SafeTensorsFile(contents: malformed.bytes, name: "x.safetensors")
    }
    #expect(error?.code == malformed.code, "\(error?.description ?? "accepted")")
    #expect(error?.message.hasPrefix("x.safetensors") == true)
    if !malformed.messageContains.isEmpty {
      #expect(error?.message.contains(malformed.messageContains) == true, "\(error?.message ?? "")")
    }
  }

  @Test func everyCaseHasItsOwnLabel() {
    #expect(Set(g1Cases.map(\.label)).count == g1Cases.count)
  }
}
