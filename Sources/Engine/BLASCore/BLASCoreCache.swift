import Glibc

/// The kernel choice remembered in the state directory, so a restart does not probe again.
/// Keyed by the CPU (vendor, family, model, stepping, features) and the OpenBLAS library file:
/// a VM moved to another host, or an upgraded package, probes afresh. A file that does not
/// parse is ignored (and replaced after the next probe).
public enum BLASCoreCache {
  public static let fileName = "blas-core.cache"
  static let format = "1"

  public struct Entry: Sendable, Equatable {
    /// `key(cpu:library:)` of the machine that probed.
    public var key: String
    /// The chosen kernel set.
    public var core: String
    /// What the probes found, for the log ("SkylakeX 212 GFLOP/s, Haswell 150 GFLOP/s").
    public var probes: String
    /// The hashed texts, for people reading the file.
    public var cpu: String = ""
    public var library: String = ""

    public init(key: String, core: String, probes: String, cpu: String = "", library: String = "") {
      (self.key, self.core, self.probes, self.cpu, self.library) = (key, core, probes, cpu, library)
    }
  }

  public enum Lookup: Sendable, Equatable {
    case hit(Entry)
    /// Why there is no usable entry: no file, another machine's, unreadable.
    case miss(String)
  }

  /// 16 hex digits of FNV-1a over the format, the CPU's fingerprint and the library identity.
  public static func key(cpu: CPUIdentity, library: String) -> String {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in "\(Self.format)|\(cpu.fingerprint)|\(library)".utf8 {
      hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3
    }
    let digits = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
  }

  public static func path(in directory: String) -> String { "\(directory)/\(Self.fileName)" }

  /// The entry in `directory` for `key`.
  public static func lookup(key: String, in directory: String) -> Lookup {
    let path = Self.path(in: directory)
    guard access(path, F_OK) == 0 else { return .miss("no cache file yet") }
    let text: String
    do { text = try TextFile.read(path, limit: 65536) } catch { return .miss(error.message) }
    guard let entry = Self.decode(text) else { return .miss("\(path) is unreadable, ignored") }
    guard entry.key == key else { return .miss("\(path) is for another CPU or OpenBLAS") }
    return .hit(entry)
  }

  /// Writes `entry` to `directory` (which must exist), replacing the file atomically.
  public static func store(_ entry: Entry, in directory: String) throws(BLASCoreError) {
    try TextFile.writeAtomically(Self.path(in: directory), Self.encode(entry))
  }

  static func encode(_ entry: Entry) -> String {
    func clean(_ s: String) -> String { String(s.map { $0.isNewline ? " " : $0 }) }
    return """
      # rlhfd: the OpenBLAS kernel set (OPENBLAS_CORETYPE) chosen for this CPU and library.
      # Delete this file to probe again.
      format=\(Self.format)
      key=\(entry.key)
      core=\(clean(entry.core))
      probes=\(clean(entry.probes))
      cpu=\(clean(entry.cpu))
      library=\(clean(entry.library))

      """
  }

  /// The entry, or nil unless the format, a 16-digit key and a catalogue core are present.
  static func decode(_ text: String) -> Entry? {
    var fields: [String: String] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
      guard let equals = line.firstIndex(of: "=") else { return nil }
      fields[String(line[..<equals])] = String(line[line.index(after: equals)...])
    }
    guard fields["format"] == Self.format, let key = fields["key"], key.count == 16,
      key.allSatisfy(\.isHexDigit), let core = fields["core"].flatMap(BLASCoreCatalog.core(named:))
    else { return nil }
    return Entry(
      key: key,
      core: core.name,
      probes: fields["probes"] ?? "",
      cpu: fields["cpu"] ?? "",
      library: fields["library"] ?? ""
    )
  }
}
