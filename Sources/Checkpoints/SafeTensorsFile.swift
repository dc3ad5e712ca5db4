// A safetensors file mapped read-only (MAP_PRIVATE) and validated before any tensor is handed out.
// The mapping lives as long as the object and every TensorView taken from it. Files must not be
// written while mapped (a truncated mapping faults with SIGBUS): load only complete files that
// were written to a temporary name and renamed into place.
import Glibc

/// A validated safetensors file.
public final class SafeTensorsFile: @unchecked Sendable {
  // Sendable: every stored property is immutable after init, and the mapped bytes are read-only.

  private enum Storage {
    case mapped(UnsafeMutableRawPointer, Int)
    case allocated(UnsafeMutableRawBufferPointer)
  }

  /// The path (or name, for in-memory files) used in messages.
  public let path: String
  public let header: SafeTensorsHeader
  private let storage: Storage
  private let bytes: UnsafeRawBufferPointer

  /// Maps and validates the file at `path`.
  public init(path: String, maxHeaderSize: Int = SafeTensorsHeader.maxHeaderSize)
    throws(CheckpointError)
  {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw Self.systemError("cannot open \(path)") }
    defer { close(fd) }
    var status = stat()
    guard fstat(fd, &status) == 0 else { throw Self.systemError("cannot stat \(path)") }
    guard status.st_mode & S_IFMT == S_IFREG else {
      throw CheckpointError(.io, "\(path) is not a regular file")
    }
    let size = Int(status.st_size)
    guard size >= 8 else {
      throw CheckpointError(
        .truncated,
        "\(path): \(size) bytes, too short for the 8-byte header length"
      )
    }
    guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0),
      base != UnsafeMutableRawPointer(bitPattern: -1)
    else { throw Self.systemError("cannot mmap \(path)") }
    let bytes = UnsafeRawBufferPointer(start: base, count: size)
    do {
      header = try SafeTensorsHeader.parse(bytes, file: path, maxHeaderSize: maxHeaderSize)
    } catch {
      munmap(base, size)
      throw error
    }
    self.path = path
    self.storage = .mapped(base, size)
    self.bytes = bytes
  }

  /// Validates an in-memory file image (tests, fuzzing, small adapters). Copies `contents`.
  public init(
    contents: [UInt8],
    name: String,
    maxHeaderSize: Int = SafeTensorsHeader.maxHeaderSize
  ) throws(CheckpointError) {
    let buffer = UnsafeMutableRawBufferPointer.allocate(
      byteCount: max(contents.count, 1),
      alignment: 16
    )
    buffer.copyBytes(from: contents)
    let bytes = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<contents.count])
    do {
      header = try SafeTensorsHeader.parse(bytes, file: name, maxHeaderSize: maxHeaderSize)
    } catch {
      buffer.deallocate()
      throw error
    }
    self.path = name
    self.storage = .allocated(buffer)
    self.bytes = bytes
  }

  deinit {
    switch storage {
    case .mapped(let base, let size): munmap(base, size)
    case .allocated(let buffer): buffer.deallocate()
    }
  }

  /// Tensor names, sorted.
  public var tensorNames: [String] { header.tensors.keys.sorted() }

  public var metadata: [String: String] { header.metadata }

  public func info(_ name: String) -> TensorInfo? { header.tensors[name] }

  public func contains(_ name: String) -> Bool { header.tensors[name] != nil }

  /// A view of the tensor's bytes, valid as long as the view lives (it keeps this file mapped).
  public func tensor(_ name: String) throws(CheckpointError) -> TensorView {
    guard let info = header.tensors[name] else {
      throw CheckpointError(.tensorNotFound, "\(path): no tensor '\(name)'")
    }
    let start = header.dataStart + info.dataOffsets.lowerBound
    let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<start + info.byteCount])
    return TensorView(info: info, file: path, bytes: slice, owner: self)
  }

  /// Lets the kernel drop the resident pages of `range` (bytes of this file's mapping) once
  /// their contents live elsewhere (weights repacked at load): they stop counting in RSS, and a
  /// later read faults them in again from the file, unchanged. Only whole pages inside `range`
  /// are released; an in-memory file keeps its bytes.
  func releaseResidentPages(_ range: UnsafeRawBufferPointer) {
    guard case .mapped = storage, let start = range.baseAddress, range.count > 0 else { return }
    let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
    let first = (UInt(bitPattern: start) + page - 1) / page * page
    let end = (UInt(bitPattern: start) + UInt(range.count)) / page * page
    guard end > first, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
    // Clean, read-only MAP_PRIVATE pages: MADV_DONTNEED discards them; the file backs them.
    _ = madvise(pointer, Int(end - first), MADV_DONTNEED)
  }

  private static func systemError(_ what: String) -> CheckpointError {
    CheckpointError(.io, "\(what): \(String(cString: strerror(errno)))")
  }
}
