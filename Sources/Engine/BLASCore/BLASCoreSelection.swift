import Glibc
import Synchronization

/// Which OpenBLAS kernel set this process runs and why: logged at start, reported by
/// `Admin.GetModelInfo` (`compute_kernels`), printed by `rlhfd blas-core`.
public struct BLASCoreSelection: Sendable, Equatable {
  public enum Source: String, Sendable {
    /// `OPENBLAS_CORETYPE` came from the environment; respected as is.
    case environment
    /// `blas_core: NAME`.
    case setting
    /// `blas_core: keep`: OpenBLAS's own choice, nothing probed.
    case keep
    /// OpenBLAS's own choice is already the best kernel set this CPU runs.
    case openblas
    /// Probed at this start and cached.
    case probed
    /// Taken from the cache of an earlier start.
    case cached
    /// No better candidate passed its probe (or probing failed): OpenBLAS's own choice.
    case fallback
  }

  /// The kernel set OpenBLAS runs.
  public var core: String
  public var source: Source
  /// Why, in words ("OpenBLAS chose Prescott; probed SkylakeX 212 GFLOP/s, …").
  public var reason: String

  public init(core: String, source: Source, reason: String) {
    self.core = core
    self.source = source
    self.reason = reason
  }

  /// "SkylakeX (OpenBLAS chose Prescott; probed …)": for logs and `compute_kernels`.
  public var summary: String { "\(self.core) (\(self.reason))" }

  /// The selection made at start-up (`BLASCoreStartup.start`); without one (tests, tools), what
  /// the environment says.
  public static var current: BLASCoreSelection {
    Self.recorded.withLock { $0 } ?? Self.unmanaged()
  }

  static func record(_ selection: BLASCoreSelection) { Self.recorded.withLock { $0 = selection } }

  private static let recorded = Mutex<BLASCoreSelection?>(nil)

  private static func unmanaged() -> BLASCoreSelection {
    let core = BLASLibrary.coreName
    if let pinned = getenv("OPENBLAS_CORETYPE").map({ String(cString: $0) }), !pinned.isEmpty {
      return BLASCoreSelection(
        core: core,
        source: .environment,
        reason: "OPENBLAS_CORETYPE=\(pinned) from the environment"
      )
    }
    return BLASCoreSelection(
      core: core,
      source: .keep,
      reason: "OpenBLAS's own choice, not checked"
    )
  }

  /// The text passed to the re-executed process in `BLASCoreStartup.markerVariable`.
  var encoded: String { "\(self.core)|\(self.source.rawValue)|\(self.reason)" }

  init?(encoded: String) {
    let parts = encoded.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false)
    guard parts.count == 3, !parts[0].isEmpty, let source = Source(rawValue: String(parts[1]))
    else {
      return nil
    }
    self.init(core: String(parts[0]), source: source, reason: String(parts[2]))
  }
}
