import Glibc

/// Small text files without Foundation (the Engine links none): /proc files and the kernel
/// choice's cache.
enum TextFile {
  /// The whole file (read to EOF, so /proc files work); at most `limit` bytes.
  static func read(_ path: String, limit: Int = 1 << 22) throws(BLASCoreError) -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw BLASCoreError("cannot open \(path): \(Self.errnoText())") }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while bytes.count < limit {
      let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      guard n >= 0 else { throw BLASCoreError("cannot read \(path): \(Self.errnoText())") }
      if n == 0 { break }
      bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Writes `text` to a temporary file beside `path`, then renames it over `path`: readers
  /// see the old file or the new one, never half of one.
  static func writeAtomically(_ path: String, _ text: String) throws(BLASCoreError) {
    let temporary = "\(path).\(getpid()).tmp"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw BLASCoreError("cannot write \(temporary): \(Self.errnoText())") }
    let bytes = Array(text.utf8)
    var written = 0
    while written < bytes.count {
      let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { break }
      written += n
    }
    let synced = fsync(fd) == 0
    close(fd)
    guard written == bytes.count, synced, rename(temporary, path) == 0 else {
      let reason = Self.errnoText()
      unlink(temporary)
      throw BLASCoreError("cannot write \(path): \(reason)")
    }
  }

  static func errnoText() -> String { String(cString: strerror(errno)) }
}
