// The OpenBLAS kernel set a benchmark runs with: the daemon's own logic (BLASCoreStartup, in
// Engine), so the figures are what `rlhfd serve` gets on this machine. `--blas-core` as the
// daemon's; `--state-directory DIR` caches the choice (engine.sh: .build-bench/state). Then, as
// the daemon, OpenBLAS goes single-threaded and the engine's pools split every product (SGEMM).
public import Engine
import Foundation
import Glibc

public enum Kernels {
  public static let probeFlag = "--blas-probe"

  /// In a probe child (`EngineBench --blas-probe`, OPENBLAS_CORETYPE set): the self-test.
  public static func probeIfAsked() {
    guard CommandLine.arguments.dropFirst().first == Self.probeFlag else { return }
    let expected = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
    let result = BLASProbe.run(expected: expected?.isEmpty == false ? expected : nil, fault: nil)
    print(result.line)
    exit(result.status == .ok ? 0 : 1)
  }

  /// Chooses (may re-execute the benchmark) and says what runs, as `<name>: openblas core …`.
  public static func choose(
    setting: String,
    stateDirectory: String?,
    name: String = "EngineBench"
  ) -> BLASCoreSelection {
    let parsed: BLASCoreSetting
    do { parsed = try BLASCoreSetting(parsing: setting) } catch { fatalError(error.message) }
    if let directory = stateDirectory {
      try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }
    let selection = BLASCoreStartup.start(
      setting: parsed,
      cacheDirectory: stateDirectory,
      probeCommand: ["/proc/self/exe", Self.probeFlag]
    )
    BLASThreads.useEnginePools()
    print(
      "\(name): openblas core \(selection.summary); single-threaded, products split over the engine's pools"
    )
    return selection
  }
}
