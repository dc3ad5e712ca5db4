// libFuzzer target: the safetensors header validator on arbitrary file images
// (research/reliability.md G2). Built only by scripts/fuzz.sh (`swift build --sanitize=fuzzer`).
import Checkpoints

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  let bytes = UnsafeRawBufferPointer(start: count == 0 ? nil : start, count: count)
  // A small cap keeps each run fast; the validator's rules are the same below it.
  if let header = try? SafeTensorsHeader.parse(bytes, file: "fuzz", maxHeaderSize: 1 << 20) {
    // Whatever it accepts must be self-consistent: every tensor inside the data section.
    for info in header.tensors.values {
      precondition(info.dataOffsets.lowerBound >= 0)
      precondition(header.dataStart + info.dataOffsets.upperBound <= count)
    }
  }
  return 0
}
