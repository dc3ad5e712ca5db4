// The PyTorch peer: a child process (`python tools/reference/bench_torch_<mode>_step.py --serve
// …`) that loads the same model with the same LoRA once, then runs one timed step per "step"
// line on its stdin and answers one `RESULT {json}` line (forward, backward, optimizer, wall
// seconds and the step's units), so that its steps interleave with rlhfd's (ABAB…) without
// reloading. fp32, `torch.set_num_threads(2)`. Its stderr goes to a log file, shown on failure.
import Foundation

struct PeerStep {
  var forward: Double
  var backward: Double
  var optimizer: Double
  var wall: Double
  var units: Double
}

final class TorchPeer {
  let process: Process
  let input: FileHandle
  let output: FileHandle
  let log: String
  var buffer = Data()
  /// What the peer said about itself (torch version, threads, shapes).
  var info = ""

  /// A started peer, or nil and why not (no python, no torch, a failed load).
  static func start(python: String, script: String, arguments: [String]) -> (TorchPeer?, String) {
    guard FileManager.default.isExecutableFile(atPath: python) else {
      return (
        nil,
        "peer not run: no python at \(python) (set RLHFD_TORCH_PYTHON or --python; tools/reference/README.md makes the venv)"
      )
    }
    guard FileManager.default.fileExists(atPath: script) else {
      return (nil, "peer not run: \(script) not found (run from the repository root)")
    }
    let log = NSTemporaryDirectory() + "/trainingbench-torch-\(getpid()).log"
    FileManager.default.createFile(atPath: log, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [script, "--serve"] + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["HF_HUB_OFFLINE"] = "1"
    environment["TRANSFORMERS_VERBOSITY"] = "error"
    process.environment = environment
    let (stdin, stdout) = (Pipe(), Pipe())
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = FileHandle(forWritingAtPath: log)
    do { try process.run() } catch {
      return (nil, "peer not run: \(python) failed to start: \(error)")
    }
    let peer = TorchPeer(process, stdin.fileHandleForWriting, stdout.fileHandleForReading, log)
    guard let ready = peer.line(), ready.hasPrefix("READY ") else {
      process.waitUntilExit()
      let tail = peer.logTail()
      let missing = tail.split(separator: "|").last { $0.contains("No module named") }
      let why =
        missing.map { "\(python) lacks a module (\($0.trimmingCharacters(in: .whitespaces)))" }
        ?? tail
      return (nil, "peer not run: \(why)")
    }
    peer.info = String(ready.dropFirst("READY ".count))
    return (peer, "peer: PyTorch \(peer.info)")
  }

  private init(_ process: Process, _ input: FileHandle, _ output: FileHandle, _ log: String) {
    (self.process, self.input, self.output, self.log) = (process, input, output, log)
  }

  /// One timed step of the peer.
  func step() throws -> PeerStep {
    try input.write(contentsOf: Data("step\n".utf8))
    guard let line = line(), line.hasPrefix("RESULT ") else {
      throw BenchError("the torch peer stopped: \(logTail())")
    }
    let json = Data(line.dropFirst("RESULT ".count).utf8)
    guard let o = try JSONSerialization.jsonObject(with: json) as? [String: Any],
      let f = (o["forward"] as? NSNumber)?.doubleValue,
      let b = (o["backward"] as? NSNumber)?.doubleValue,
      let p = (o["optimizer"] as? NSNumber)?.doubleValue,
      let w = (o["wall"] as? NSNumber)?.doubleValue,
      let u = (o["units"] as? NSNumber)?.doubleValue
    else { throw BenchError("the torch peer's RESULT is not understood: \(line)") }
    return PeerStep(forward: f, backward: b, optimizer: p, wall: w, units: u)
  }

  func stop() {
    try? input.write(contentsOf: Data("quit\n".utf8))
    try? input.close()
    process.waitUntilExit()
    try? FileManager.default.removeItem(atPath: log)
  }

  /// The next READY / RESULT line on stdout (other lines are the libraries'), or nil at the end.
  private func line() -> String? {
    while true {
      if let newline = buffer.firstIndex(of: 0x0A) {
        let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
        buffer.removeSubrange(buffer.startIndex...newline)
        if line.hasPrefix("READY ") || line.hasPrefix("RESULT ") { return line }
        continue
      }
      let more = output.availableData
      if more.isEmpty { return nil }
      buffer.append(more)
    }
  }

  private func logTail() -> String {
    let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    let lines = text.split(separator: "\n").suffix(6).joined(separator: " | ")
    return lines.isEmpty ? "the peer exited (status \(process.terminationStatus))" : lines
  }
}

struct BenchError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
