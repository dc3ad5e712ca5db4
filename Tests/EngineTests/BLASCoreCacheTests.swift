import Glibc
import Testing

@testable import Engine

@Suite struct BLASCoreCacheTests {
  let cpu = CPUIdentity(
    vendor: "GenuineIntel",
    family: 6,
    model: 207,
    stepping: 2,
    features: [.avx, .avx2, .fma, .avx512f, .avx512bw, .avx512vl, .avx512dq, .avx512cd]
  )
  let library = "OpenBLAS 0.3.21 /usr/lib/libopenblas.so.0 size=1 mtime=2"

  @Test func keyChangesWithTheCPUAndTheLibrary() {
    let key = BLASCoreCache.key(cpu: self.cpu, library: self.library)
    #expect(key.count == 16 && key.allSatisfy(\.isHexDigit))
    #expect(key == BLASCoreCache.key(cpu: self.cpu, library: self.library))
    var moved = self.cpu
    moved.model = 143
    #expect(key != BLASCoreCache.key(cpu: moved, library: self.library))
    var fewer = self.cpu
    fewer.features.remove(.avx512vl)
    #expect(key != BLASCoreCache.key(cpu: fewer, library: self.library))
    #expect(key != BLASCoreCache.key(cpu: self.cpu, library: "OpenBLAS 0.3.26"))
    var renamed = self.cpu
    renamed.brand = "another brand string"
    #expect(key == BLASCoreCache.key(cpu: renamed, library: self.library))
  }

  @Test func entryRoundTripsThroughTheFile() throws {
    let directory = try temporaryDirectory()
    defer { removeTree(directory) }
    let key = BLASCoreCache.key(cpu: self.cpu, library: self.library)
    #expect(BLASCoreCache.lookup(key: key, in: directory) == .miss("no cache file yet"))
    let entry = BLASCoreCache.Entry(
      key: key,
      core: "SkylakeX",
      probes: "SkylakeX 212 GFLOP/s, Prescott 28 GFLOP/s",
      cpu: self.cpu.fingerprint,
      library: self.library
    )
    try BLASCoreCache.store(entry, in: directory)
    #expect(BLASCoreCache.lookup(key: key, in: directory) == .hit(entry))
    let other = BLASCoreCache.key(cpu: self.cpu, library: "OpenBLAS 0.3.26")
    guard case .miss(let why) = BLASCoreCache.lookup(key: other, in: directory) else {
      Issue.record("another library's key hit")
      return
    }
    #expect(why.contains("another CPU or OpenBLAS"))
  }

  @Test(arguments: [
    "", "garbage\n", "format=1\nkey=0123456789abcdef\n",  // no core
    "format=1\nkey=0123456789abcdef\ncore=Bogus\n",  // not a core name
    "format=1\nkey=0123\ncore=Haswell\n",  // short key
    "format=2\nkey=0123456789abcdef\ncore=Haswell\n",  // another format
    "format=1\nkey=0123456789abcdef\ncore=Haswell\nno equals sign\n",
  ])
  func corruptFilesAreIgnored(text: String) throws {
    let directory = try temporaryDirectory()
    defer { removeTree(directory) }
    try TextFile.writeAtomically(BLASCoreCache.path(in: directory), text)
    guard case .miss(let why) = BLASCoreCache.lookup(key: "0123456789abcdef", in: directory) else {
      Issue.record("a corrupt file hit: \(text)")
      return
    }
    #expect(why.contains("unreadable, ignored"))
  }

  @Test func aValidHandWrittenFileIsRead() throws {
    let directory = try temporaryDirectory()
    defer { removeTree(directory) }
    try TextFile.writeAtomically(
      BLASCoreCache.path(in: directory),
      "# comment\nformat=1\nkey=0123456789abcdef\ncore=haswell\n"
    )
    let hit = BLASCoreCache.lookup(key: "0123456789abcdef", in: directory)
    #expect(hit == .hit(.init(key: "0123456789abcdef", core: "Haswell", probes: "")))
  }
}

/// A fresh directory under /tmp.
func temporaryDirectory() throws -> String {
  var template = Array("/tmp/rlhfd-blas-test-XXXXXX".utf8CString)
  guard let path = mkdtemp(&template) else { throw BLASCoreError("mkdtemp failed") }
  return String(cString: path)
}

func removeTree(_ path: String) {
  if let directory = opendir(path) {
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) {
        String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
      }
      if name != "." && name != ".." { unlink("\(path)/\(name)") }
    }
    closedir(directory)
  }
  rmdir(path)
}
