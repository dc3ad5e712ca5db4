// Small file helpers for the JSON side files (configs, indexes): whole-file reads with a size cap
// and messages that carry the OS reason.
import Glibc

enum FileIO {
  /// JSON side files larger than this are refused (real ones are kilobytes).
  static let maxJSONFileSize = 100_000_000

  static func exists(_ path: String) -> Bool {
    var status = stat()
    return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFREG
  }

  static func join(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
  }

  static func read(_ path: String, limit: Int = maxJSONFileSize) throws(CheckpointError) -> [UInt8]
  {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw CheckpointError(.io, "cannot open \(path): \(reason())") }
    defer { close(fd) }
    var status = stat()
    guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
      throw CheckpointError(.io, "\(path) is not a regular file")
    }
    guard status.st_size <= limit else {
      throw CheckpointError(.io, "\(path): \(status.st_size) bytes, over the limit of \(limit)")
    }
    var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
    var done = 0
    while done < bytes.count {
      let count = bytes.withUnsafeMutableBytes { buffer in
        Glibc.read(fd, buffer.baseAddress! + done, buffer.count - done)
      }
      if count < 0 && errno == EINTR { continue }
      guard count > 0 else { throw CheckpointError(.io, "cannot read \(path): \(reason())") }
      done += count
    }
    return bytes
  }

  static func reason() -> String { String(cString: strerror(errno)) }
}
