// SafeTensorsFile beyond the malformed-header table: what the format allows, dtypes that parse
// but do not convert, messages, the header cap, and files on disk.
import Checkpoints
import Testing

@Suite struct SafeTensorsFileTests {
  @Test func acceptsWhatTheFormatAllows() throws {
    // Empty header, a scalar, empty tensors (several at one offset), padding, escapes in names.
    #expect(
      try SafeTensorsFile(contents: SafeTensorsWriter.raw(header: "{}"), name: "e").tensorNames
        == []
    )
    let tensors = [
      TestTensor("empty", "F32", [0, 3], []), TestTensor("also empty", "BF16", [0], []),
      TestTensor.f32("scalar", [], [2.5]),
      TestTensor("quoted \"name\"\n", "I64", [1], SafeTensorsWriter.bytes([Int64(-7)])),
    ]
    let file = try SafeTensorsFile(
      contents: SafeTensorsWriter.file(tensors, metadata: ["format": "pt"]),
      name: "ok"
    )
    #expect(file.tensorNames == ["also empty", "empty", "quoted \"name\"\n", "scalar"])
    #expect(file.metadata == ["format": "pt"])
    #expect(try file.tensor("scalar").floats() == [2.5])
    #expect(try file.tensor("empty").floats() == [])
    #expect(file.info("empty")?.shape == [0, 3])
  }

  @Test func unsupportedDTypesParseButDoNotConvert() throws {
    let tensors = [
      TestTensor("ids", "I64", [2], SafeTensorsWriter.bytes([Int64(1), 2])),
      TestTensor("u", "U8", [1], [9]),
    ]
    let file = try SafeTensorsFile(
      contents: SafeTensorsWriter.file(tensors),
      name: "ints.safetensors"
    )
    let ids = try file.tensor("ids")
    #expect(ids.dtype == .i64 && ids.byteCount == 16)
    let error = checkpointError { _ = try ids.floats() }
    #expect(error?.code == .unsupportedDType)
    #expect(
      error?.message
        == "ints.safetensors: tensor 'ids' has dtype I64; supported are F32, F16 and BF16"
    )
  }

  @Test func missingTensorNamesTheFileAndTensor() throws {
    let file = try SafeTensorsFile(contents: SafeTensorsWriter.file([]), name: "m.safetensors")
    let error = checkpointError { _ = try file.tensor("nope") }
    #expect(error == CheckpointError(.tensorNotFound, "m.safetensors: no tensor 'nope'"))
  }

  @Test func smallerHeaderCapIsHonoured() {
    let bytes = SafeTensorsWriter.file([TestTensor.f32("a", [1], [1])])
    let error = checkpointError {
      _ = try SafeTensorsFile(contents: bytes, name: "c", maxHeaderSize: 16)
    }
    #expect(error?.code == .headerTooLarge)
  }

  @Test func openingFromDiskReportsOSErrors() throws {
    let directory = try TemporaryDirectory()
    #expect(
      checkpointError { _ = try SafeTensorsFile(path: directory.file("absent")) }?.code == .io
    )
    #expect(checkpointError { _ = try SafeTensorsFile(path: directory.path) }?.code == .io)
    try directory.write("short", [1, 2])
    #expect(
      checkpointError { _ = try SafeTensorsFile(path: directory.file("short")) }?.code == .truncated
    )
    try directory.write("bad", SafeTensorsWriter.raw(header: "{\"a\":1,\"a\":2}"))
    let error = checkpointError { _ = try SafeTensorsFile(path: directory.file("bad")) }
    #expect(error?.code == .duplicateKey)
    #expect(error?.message.hasPrefix(directory.file("bad")) == true)
  }
}

@Suite struct SafeTensorsMutationTests {
  /// A seeded in-process smoke test in the spirit of G2 (the libFuzzer run is separate): random
  /// byte flips, truncations and length rewrites of a valid file never trap.
  @Test func mutatedFilesNeverTrap() {
    let tensors = [
      TestTensor.f32("a", [2, 2], seed: 1), TestTensor("b", "BF16", [3], [1, 2, 3, 4, 5, 6]),
      TestTensor("c", "F4", [2], [0x21]),
    ]
    let valid = SafeTensorsWriter.file(tensors, metadata: ["format": "pt"])
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next(_ bound: Int) -> Int {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int((state >> 33) % UInt64(bound))
    }
    var accepted = 0
    for _ in 0..<20_000 {
      var bytes = valid
      for _ in 0..<(1 + next(4)) {
        switch next(4) {
        case 0: bytes[next(bytes.count)] = UInt8(next(256))
        case 1: bytes[8 + next(bytes.count - 8)] = Array("{}[],:\"0-9e.".utf8)[next(12)]
        case 2: bytes.removeLast(next(min(bytes.count, 16)))
        default:
          bytes.replaceSubrange(
            0..<min(8, bytes.count),
            with: SafeTensorsWriter.bytes([UInt64(next(300))])
          )
        }
        if bytes.count < 9 { break }
      }
      if let file = try? SafeTensorsFile(contents: bytes, name: "m") {
        accepted += 1
        for name in file.tensorNames { _ = try? file.tensor(name).floats() }
      }
    }
    #expect(accepted > 0)
  }
}
