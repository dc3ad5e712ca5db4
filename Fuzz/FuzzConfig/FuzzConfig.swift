// libFuzzer target: the daemon's YAML configuration parser and its validation (unknown keys,
// wrong types, values out of range must be a ConfigurationError, never a trap). Built only by
// scripts/fuzz.sh.
import Daemon

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  let bytes = UnsafeRawBufferPointer(start: count == 0 ? nil : start, count: count)
  let text = String(decoding: bytes, as: UTF8.self)
  // (Not `bridgeConfiguration()`: it reads the TLS files a configuration names, and a fuzzed
  // path such as /dev/stdin would block.)
  _ = try? DaemonConfiguration.parse(yaml: text)
  return 0
}
