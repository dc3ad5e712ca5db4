// The llama.cpp peer: `llama-bench -m MODEL -p P -n N -t 2 -r 3 -o json`, run as a child process
// after EngineBench's own phases (never at the same time), its tokens/s parsed from the JSON.
import BenchSupport
import Foundation

struct PeerResult {
  var model: String
  var prefillTokensPerSecond: Double?
  var decodeTokensPerSecond: Double?
  var seconds: Double
}

enum Peer {
  static func run(binary: String, model: String, prefill: Int, decode: Int, runs: Int) throws
    -> PeerResult
  {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = [
      "-m", model, "-p", String(prefill), "-n", String(decode), "-t", "2", "-r", String(runs),
      "-o", "json",
    ]
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle(forWritingAtPath: "/dev/null")
    let t0 = Clock.now()
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let seconds = Clock.now() - t0
    guard process.terminationStatus == 0 else {
      throw BenchError("llama-bench exited with \(process.terminationStatus) on \(model)")
    }
    guard let rows = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
      throw BenchError("llama-bench output is not a JSON array")
    }
    var result = PeerResult(model: model, seconds: seconds)
    for row in rows {
      let nPrompt = (row["n_prompt"] as? NSNumber)?.intValue ?? 0
      let nGen = (row["n_gen"] as? NSNumber)?.intValue ?? 0
      let ts = (row["avg_ts"] as? NSNumber)?.doubleValue
      if nPrompt > 0 && nGen == 0 { result.prefillTokensPerSecond = ts }
      if nGen > 0 && nPrompt == 0 { result.decodeTokensPerSecond = ts }
    }
    return result
  }
}
