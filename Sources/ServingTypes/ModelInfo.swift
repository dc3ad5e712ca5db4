// What Admin.GetModelInfo reports, on the native side: Serving fills it from the models it
// serves; a model that is still loading makes the call UNAVAILABLE.

/// The served models and the daemon, for `Admin.GetModelInfo`.
public struct ModelInfo: Sendable, Equatable {
  public var policyModelName = ""
  public var rewardModelName = ""
  public var architecture = ""
  public var contextLength = 0
  public var vocabSize = 0
  public var imageSize = 0
  public var imageTokens = 0
  /// The promoted policy version.
  public var policyVersion = ""
  /// Every served policy version, newest first.
  public var policyVersions: [String] = []
  public var rewardModelVersion = ""
  public var daemonVersion = ""
  public var computeKernels = ""

  public init() {}
}

/// Reads the current model information; throws `.unavailable` while a model loads.
public typealias ModelInfoSource = @Sendable () throws(BackendError) -> ModelInfo
