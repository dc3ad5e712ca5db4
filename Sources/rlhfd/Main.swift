// The entry point. `rlhfd serve` (and `rlhfd blas-core`) first choose OpenBLAS's kernel set,
// synchronously, before the first `await`: nothing else has started yet (no server, no engine
// pool, no task of ours), so re-executing the process with `OPENBLAS_CORETYPE` loses nothing.
// Then the commands run as usual; parse errors are reported there.
import ArgumentParser
import Daemon

@main
enum Main {
  static func main() async {
    Self.chooseKernels(Array(CommandLine.arguments.dropFirst()))
    await RlhfdCommand.main()
  }

  /// For `serve` and `blas-core` with a valid configuration: `Daemon.chooseKernels`.
  static func chooseKernels(_ arguments: [String]) {
    let options: ConfigurationOptions
    switch try? RlhfdCommand.parseAsRoot(arguments) {
    case let serve as Serve: options = serve.options
    case let core as BlasCore: options = core.options
    default: return
    }
    guard let configuration = try? options.resolve() else { return }
    Daemon.chooseKernels(configuration, probeCommand: ["/proc/self/exe", BlasProbe.name])
  }
}
