import CBLAS
import Glibc

/// The OpenBLAS library this process loaded: the kernel set it runs and what identifies the
/// library file (a new package version may choose differently, so it is part of the cache key).
public enum BLASLibrary {
  /// The kernel set OpenBLAS runs (`openblas_get_corename`): chosen by OpenBLAS from CPUID
  /// when the process started, or named by `OPENBLAS_CORETYPE`.
  public static var coreName: String { String(cString: openblas_get_corename()) }

  /// "OpenBLAS 0.3.21" (the first two words of `openblas_get_config`).
  public static var version: String {
    String(cString: openblas_get_config()).split(separator: " ").prefix(2).joined(separator: " ")
  }

  /// The version, the shared library's path, size and modification time: changes when the
  /// package is upgraded, even to the same upstream version.
  public static var fileIdentity: String {
    guard let path = Self.loadedPath() else { return Self.version }
    var info = stat()
    guard stat(path, &info) == 0 else { return "\(Self.version) \(path)" }
    return "\(Self.version) \(path) size=\(info.st_size) mtime=\(info.st_mtim.tv_sec)"
  }

  /// The path of the mapped libopenblas file, from /proc/self/maps.
  static func loadedPath() -> String? {
    guard let maps = try? TextFile.read("/proc/self/maps") else { return nil }
    for line in maps.split(separator: "\n") {
      guard let slash = line.firstIndex(of: "/") else { continue }
      let path = line[slash...]
      if path.contains("libopenblas") { return String(path) }
    }
    return nil
  }
}
