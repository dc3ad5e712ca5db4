// The llama.cpp side of the image encode: `llama-mtmd-cli` (beside llama-bench) with the F16
// text GGUF and `mmproj-f16.gguf` (Benchmarks/llama-cpp/make_mmproj.py: the same CLIP ViT and
// LLaVA-1.5 projector as rlhfd's checkpoint) encodes one image with 2 threads; its own log line
// "mtmd batch encoding done in N ms" is the figure (the image's preprocessing and the text
// model's load are not in it, as rlhfd's encode figure has neither). llama.cpp's LLaVA-1.5 path
// stops at the second-to-last ViT layer, as transformers' and rlhfd's do.
import Foundation

struct ImagePeer {
  var binary: String
  var textModel: String
  var mmproj: String
  var image: String

  /// nil (with why) when llama-mtmd-cli, the F16 GGUF, the mmproj or the image is missing.
  static func make(llamaBench: String?, ggufDirectory: String?, image: String?) -> (
    ImagePeer?, String
  ) {
    guard let llamaBench, let dir = ggufDirectory, let image else {
      return (nil, "image peer not run: no --peer/--gguf-dir/--peer-image")
    }
    let binary = (llamaBench as NSString).deletingLastPathComponent + "/llama-mtmd-cli"
    let peer = ImagePeer(
      binary: binary,
      textModel: dir + "/tinyllama-f16.gguf",
      mmproj: dir + "/mmproj-f16.gguf",
      image: image
    )
    let manager = FileManager.default
    guard manager.isExecutableFile(atPath: binary) else {
      return (nil, "image peer not run: \(binary) is missing (Benchmarks/llama-cpp/build.sh)")
    }
    for file in [peer.textModel, peer.mmproj, image] where !manager.fileExists(atPath: file) {
      return (nil, "image peer not run: \(file) is missing (Benchmarks/engine.sh makes it)")
    }
    return (peer, "image peer: \(binary), \(peer.mmproj)")
  }

  /// Seconds of one image encode.
  func once() throws -> Double {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = [
      "-m", textModel, "--mmproj", mmproj, "--image", image, "-p", "Describe.", "-n", "1",
      "-t", "2", "--temp", "0", "--chat-template", "vicuna",
    ]
    let log = Pipe()
    process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
    process.standardError = log
    try process.run()
    let data = log.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0 else {
      throw BenchError("llama-mtmd-cli exited with \(process.terminationStatus)")
    }
    let marker = "encoding done in "
    guard let line = text.split(separator: "\n").last(where: { $0.contains(marker) }),
      let range = line.range(of: marker),
      let ms = Double(line[range.upperBound...].split(separator: " ").first ?? "")
    else { throw BenchError("llama-mtmd-cli printed no encoding time") }
    return ms / 1000
  }
}
