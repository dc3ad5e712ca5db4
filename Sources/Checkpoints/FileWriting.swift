// Writing files durably, the one place for it (adapter directories, trainer checkpoints): create
// with O_EXCL, write every byte (short writes and EINTR retried), fsync, close; an atomic replace
// writes a temporary file beside the target, fsyncs it, renames it over the target and fsyncs the
// directory, so a reader (or a restart after kill -9) sees the old file or the new one, whole.
import Glibc

/// A file open for writing.
struct FileSink {
  let fd: Int32
  let path: String

  /// Writes all of `bytes`.
  func write(_ bytes: UnsafeRawBufferPointer) throws(CheckpointError) {
    guard let base = bytes.baseAddress else { return }
    var done = 0
    while done < bytes.count {
      let count = Glibc.write(fd, base + done, min(bytes.count - done, 1 << 30))
      if count < 0 && errno == EINTR { continue }
      guard count > 0 else {
        throw CheckpointError(.io, "cannot write \(path): \(FileIO.reason())")
      }
      done += count
    }
  }

  func write(_ bytes: [UInt8]) throws(CheckpointError) {
    var failure: CheckpointError?
    bytes.withUnsafeBytes { raw in
      do throws(CheckpointError) { try write(raw) } catch { failure = error }
    }
    if let failure { throw failure }
  }
}

extension FileIO {
  /// Creates `path` (which must not exist), lets `body` write it, fsyncs and closes it. On an
  /// error the file is closed and left for the caller to remove.
  static func writeNewFile(
    _ path: String,
    _ body: (FileSink) throws(CheckpointError) -> Void
  ) throws(CheckpointError) {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw CheckpointError(.io, "cannot create \(path): \(reason())") }
    do {
      try body(FileSink(fd: fd, path: path))
    } catch {
      close(fd)
      throw error
    }
    guard fsync(fd) == 0 else {
      let why = reason()
      close(fd)
      throw CheckpointError(.io, "cannot fsync \(path): \(why)")
    }
    guard close(fd) == 0 else { throw CheckpointError(.io, "cannot close \(path): \(reason())") }
  }

  static func writeNewFile(_ path: String, _ bytes: [UInt8]) throws(CheckpointError) {
    try writeNewFile(path) { (sink) throws(CheckpointError) in try sink.write(bytes) }
  }

  /// Writes `path` atomically, replacing any file there: a temporary file in the same directory,
  /// written by `body` and fsynced, renamed over `path`, then the directory fsynced. On an error
  /// the temporary file is removed and `path` is as it was.
  static func replaceFile(
    _ path: String,
    _ body: (FileSink) throws(CheckpointError) -> Void
  ) throws(CheckpointError) {
    let (parent, name) = split(path)
    guard !name.isEmpty else { throw CheckpointError(.io, "'\(path)' names no file") }
    let temporary = temporaryPath(parent: parent, name: name)
    do throws(CheckpointError) {
      try writeNewFile(temporary, body)
      guard rename(temporary, path) == 0 else {
        throw CheckpointError(.io, "cannot rename \(temporary) to \(path): \(reason())")
      }
    } catch {
      unlink(temporary)
      throw error
    }
    try sync(parent, directory: true)
  }

  /// fsync of a file or directory.
  static func sync(_ path: String, directory: Bool) throws(CheckpointError) {
    let fd = open(path, (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw CheckpointError(.io, "cannot open \(path): \(reason())") }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw CheckpointError(.io, "cannot fsync \(path): \(reason())") }
  }

  /// The parent directory and last component of `path` (a trailing slash dropped).
  static func split(_ path: String) -> (parent: String, name: String) {
    let target = path.hasSuffix("/") ? String(path.dropLast()) : path
    let slash = target.lastIndex(of: "/")
    let parent = slash.map { $0 == target.startIndex ? "/" : String(target[..<$0]) } ?? "."
    let name = slash.map { String(target[target.index(after: $0)...]) } ?? target
    return (parent, name)
  }

  /// A fresh hidden name beside `name` in `parent` for a write that is renamed into place.
  static func temporaryPath(parent: String, name: String) -> String {
    join(parent, ".\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
  }
}
