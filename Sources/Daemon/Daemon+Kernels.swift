// The composition of the OpenBLAS kernel choice (Engine's BLASCoreStartup) with the daemon's
// settings: `blas_core` and the state directory that caches the choice.
public import Engine

extension Daemon {
  /// First thing `rlhfd serve` does, before any thread or server starts: choose OpenBLAS's
  /// kernel set (`BLASCoreStartup`, cached in the state directory). May re-execute the
  /// process and not return. `probeCommand` runs one probe in a child. Then OpenBLAS goes
  /// single-threaded: the engine's pools run every product (`SGEMM`), serving's on the shared
  /// pool and the trainer's on its own low-priority pool.
  @discardableResult
  public static func chooseKernels(_ configuration: DaemonConfiguration, probeCommand: [String])
    -> BLASCoreSelection
  {
    let directory = configuration.stateDirectory.flatMap { try? StateDirectory.prepare($0) }
    let selection = BLASCoreStartup.start(
      setting: configuration.blasCoreSetting,
      cacheDirectory: directory,
      probeCommand: probeCommand
    )
    BLASThreads.useEnginePools()
    return selection
  }
}
