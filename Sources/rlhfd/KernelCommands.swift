// `rlhfd blas-core` (which OpenBLAS kernel set the daemon runs with; the benchmark and test
// scripts use it) and the hidden `rlhfd blas-probe` (one kernel set's self-test, run in a child
// process with OPENBLAS_CORETYPE set). docs/kernels.md.
import ArgumentParser
import Daemon
import Engine
import Foundation

struct BlasCore: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "blas-core",
    abstract:
      "Print the OpenBLAS kernel set rlhfd serve would run with (probing and caching as it does)."
  )

  @OptionGroup var options: ConfigurationOptions

  /// Main.swift has chosen (and re-executed) already: report what OpenBLAS runs.
  func run() async throws {
    _ = try self.options.resolvedForCommandLine()
    let selection = BLASCoreSelection.current
    FileHandle.standardError.write(Data("openblas core \(selection.summary)\n".utf8))
    print(selection.core)
  }
}

struct BlasProbe: AsyncParsableCommand {
  static let name = "blas-probe"
  static let configuration = CommandConfiguration(
    commandName: name,
    abstract: "Self-test and time the OpenBLAS kernel set named by OPENBLAS_CORETYPE.",
    shouldDisplay: false
  )

  @Option(name: .long, help: "M x N x K of the timed sgemm.")
  var size = "512x1024x1024"

  func run() async throws {
    let dims = self.size.split(separator: "x").compactMap { Int($0) }
    guard dims.count == 3, dims.allSatisfy({ $0 > 0 && $0 <= 16384 }) else {
      throw ValidationError("--size must be MxNxK, each 1...16384")
    }
    let environment = ProcessInfo.processInfo.environment
    let expected = environment["OPENBLAS_CORETYPE"].flatMap { $0.isEmpty ? nil : $0 }
    let fault = expected.flatMap {
      BLASProbe.fault(for: $0, in: environment[BLASCoreStartup.faultTestVariable])
    }
    let result = BLASProbe.run(expected: expected, timed: (dims[0], dims[1], dims[2]), fault: fault)
    print(result.line)
    if result.status != .ok { throw ExitCode(1) }
  }
}
