import Glibc

/// Chooses OpenBLAS's kernel set at start-up, before the process starts any thread of its own:
/// when OpenBLAS picked an older set than the CPU runs (Debian's 0.3.21 falls back to Prescott
/// on CPUs it does not know), the candidates are probed in child processes, the fastest correct
/// one is cached in the state directory, and the process re-executes itself with
/// `OPENBLAS_CORETYPE` set (OpenBLAS reads it only when it loads). An explicit
/// `OPENBLAS_CORETYPE` and the `blas_core` setting win. docs/kernels.md.
public enum BLASCoreStartup {
  /// Set in the re-executed process: the selection, and the guard against a second exec.
  public static let markerVariable = "RLHFD_BLAS_CORE_SELECTED"
  /// Tests: "1" treats `OPENBLAS_CORETYPE` as OpenBLAS's own choice instead of an explicit
  /// one, so a CPU where OpenBLAS already picks the best set can play one where it does not.
  public static let ownChoiceTestVariable = "RLHFD_TEST_BLAS_OWN_CHOICE"
  /// Tests: "Core:wrong,Core:crash,Core:hang" breaks the probes of those cores.
  public static let faultTestVariable = "RLHFD_TEST_BLAS_PROBE_FAULT"
  /// Better candidates probed at most (besides OpenBLAS's own choice).
  static let maxProbed = 3

  public enum Plan: Sendable, Equatable {
    /// Carry on: OpenBLAS already runs the selected set.
    case run(BLASCoreSelection)
    /// Re-execute with `OPENBLAS_CORETYPE` = the selection's core.
    case reexec(BLASCoreSelection)
  }

  /// Decides, re-executes when the plan says so (never returning then) and records the
  /// selection (`BLASCoreSelection.current`). `probeCommand` runs one probe: the executable
  /// (normally /proc/self/exe) and its arguments; it prints `BLASProbeResult.line`.
  @discardableResult
  public static func start(
    setting: BLASCoreSetting,
    cacheDirectory: String?,
    probeCommand: [String],
    environment: [String: String] = Self.environment(),
    timeout: Duration = .seconds(20)
  ) -> BLASCoreSelection {
    let plan = Self.plan(
      setting: setting,
      environment: environment,
      cacheDirectory: cacheDirectory,
      cpu: .current,
      running: BLASLibrary.coreName,
      library: BLASLibrary.fileIdentity
    ) { core in
      Self.probe(core, command: probeCommand, environment: environment, timeout: timeout)
    }
    var selection: BLASCoreSelection
    switch plan {
    case .run(let chosen):
      selection = chosen
    case .reexec(let chosen):
      var next = environment
      next["OPENBLAS_CORETYPE"] = chosen.core
      next[Self.markerVariable] = chosen.encoded
      let failure = Self.execute(environment: next)
      selection = BLASCoreSelection(
        core: BLASLibrary.coreName,
        source: .fallback,
        reason: "\(chosen.reason); re-executing with \(chosen.core) failed: \(failure)"
      )
    }
    if let size = environment["OPENBLAS_L2_SIZE"] {
      selection.reason += "; OPENBLAS_L2_SIZE=\(size) from the environment"
    }
    unsetenv(Self.markerVariable)
    BLASCoreSelection.record(selection)
    return selection
  }

  /// The decision, probing with `probe` and caching in `cacheDirectory` when needed.
  public static func plan(
    setting: BLASCoreSetting,
    environment: [String: String],
    cacheDirectory: String?,
    cpu: CPUIdentity,
    running: String,
    library: String,
    probe: (String) -> BLASProbeReport
  ) -> Plan {
    func same(_ a: String, _ b: String) -> Bool { a.lowercased() == b.lowercased() }
    if let marker = environment[Self.markerVariable] {  // re-executed: never again
      guard let chosen = BLASCoreSelection(encoded: marker), same(chosen.core, running) else {
        return .run(
          .init(
            core: running,
            source: .fallback,
            reason: "re-executed, but OpenBLAS runs \(running): \(marker)"
          )
        )
      }
      return .run(chosen)
    }
    if let pinned = environment["OPENBLAS_CORETYPE"], !pinned.isEmpty,
      environment[Self.ownChoiceTestVariable] != "1"
    {
      let runs = same(pinned, running) ? "" : ", OpenBLAS runs \(running)"
      return .run(
        .init(
          core: running,
          source: .environment,
          reason: "OPENBLAS_CORETYPE=\(pinned) set by the environment\(runs)"
        )
      )
    }
    switch setting {
    case .keep:
      return .run(
        .init(core: running, source: .keep, reason: "blas_core: keep, OpenBLAS's own choice")
      )
    case .core(let name):
      let selection = BLASCoreSelection(
        core: name,
        source: .setting,
        reason: "blas_core: \(name); OpenBLAS chose \(running)"
      )
      return same(name, running) ? .run(selection) : .reexec(selection)
    case .auto:
      break
    }
    let candidates = BLASCoreCatalog.candidates(for: cpu)
    guard let best = candidates.first, BLASCoreCatalog.isOlder(running, than: best) else {
      let why = candidates.isEmpty ? "no candidate for this CPU" : "the best this CPU runs"
      return .run(.init(core: running, source: .openblas, reason: "OpenBLAS's own choice, \(why)"))
    }
    var cacheNote = "no state directory, not cached"
    if let directory = cacheDirectory {
      switch BLASCoreCache.lookup(key: BLASCoreCache.key(cpu: cpu, library: library), in: directory)
      {
      case .hit(let entry):
        let selection = BLASCoreSelection(
          core: entry.core,
          source: .cached,
          reason:
            "OpenBLAS chose \(running); cached in \(BLASCoreCache.path(in: directory)), probed \(entry.probes)"
        )
        return same(entry.core, running) ? .run(selection) : .reexec(selection)
      case .miss(let why):
        cacheNote = why
      }
    }
    let probed = candidates.filter { BLASCoreCatalog.isOlder(running, than: $0) }.prefix(
      Self.maxProbed
    )
    let reports = BLASCoreDecision.probeInRounds(Array(probed) + [running], rounds: 2, probe)
    let summary = reports.map(\.summary).joined(separator: ", ")
    let chosen = BLASCoreDecision.choose(reports)
    let core = chosen ?? running
    if let directory = cacheDirectory {
      let entry = BLASCoreCache.Entry(
        key: BLASCoreCache.key(cpu: cpu, library: library),
        core: core,
        probes: summary,
        cpu: cpu.fingerprint,
        library: library
      )
      do {
        try BLASCoreCache.store(entry, in: directory)
        cacheNote = "cached in \(BLASCoreCache.path(in: directory))"
      } catch {
        cacheNote = "not cached: \(error.message)"
      }
    }
    let selection = BLASCoreSelection(
      core: core,
      source: chosen == nil ? .fallback : .probed,
      reason: "OpenBLAS chose \(running); probed \(summary); \(cacheNote)"
    )
    return same(core, running) ? .run(selection) : .reexec(selection)
  }

  /// Probes `core` in a child process (`command` with `OPENBLAS_CORETYPE=core`).
  public static func probe(
    _ core: String,
    command: [String],
    environment: [String: String],
    timeout: Duration
  ) -> BLASProbeReport {
    var childEnvironment = environment
    childEnvironment[Self.markerVariable] = nil
    childEnvironment[Self.ownChoiceTestVariable] = nil
    childEnvironment["NOTIFY_SOCKET"] = nil  // only the daemon talks to systemd
    childEnvironment["SWIFT_BACKTRACE"] = "enable=no"  // a faulting kernel ends the child at once
    childEnvironment["OPENBLAS_CORETYPE"] = core
    do {
      let outcome = try ChildProcess.run(
        command[0],
        arguments: Array(command.dropFirst()),
        environment: childEnvironment,
        timeout: timeout
      )
      return BLASProbeReport(core: core, termination: outcome.termination, output: outcome.output)
    } catch {
      return BLASProbeReport(core: core, outcome: .unusable(error.message))
    }
  }

  /// execve of /proc/self/exe with this process's arguments; returns only on failure.
  static func execute(environment: [String: String]) -> String {
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for pointer in envp { free(pointer) } }
    execve("/proc/self/exe", CommandLine.unsafeArgv, envp)
    return TextFile.errnoText()
  }

  /// This process's environment.
  public static func environment() -> [String: String] {
    var result: [String: String] = [:]
    var entry = environ
    while let pointer = entry.pointee {
      let text = String(cString: pointer)
      if let equals = text.firstIndex(of: "=") {
        result[String(text[..<equals])] = String(text[text.index(after: equals)...])
      }
      entry += 1
    }
    return result
  }
}
