// A llava-hf checkpoint directory checked against its config before the model code sees it:
// the tensor layout is detected from the names, every tensor the config needs must be present
// with the shape the config implies and a float dtype, and every tensor present must be one the
// model knows. All problems are reported together, by name, in the checkpoint's own spelling.

/// What a checkpoint's tensors look like against its config.
public struct LlavaTensorReport: Sendable, Equatable {
  /// Required tensors that are absent (checkpoint spelling).
  public var missing: [String] = []
  /// "name: expected [..], got [..]".
  public var shapeMismatches: [String] = []
  /// "name: DTYPE" for required tensors that are not F32, F16 or BF16.
  public var unsupportedDTypes: [String] = []
  /// Tensors the model does not know (other architectures, mixed layouts, extra heads).
  public var unexpected: [String] = []
  /// Known tensors the model does not use (vision layers past the feature layer, buffers).
  public var unused: [String] = []

  public var isUsable: Bool {
    missing.isEmpty && shapeMismatches.isEmpty && unsupportedDTypes.isEmpty && unexpected.isEmpty
  }
}

/// A validated LLaVA checkpoint: config, weights and the layout that maps canonical names.
public final class LlavaCheckpoint: Sendable {
  public let config: LlavaConfig
  public let weights: SafeTensorsCheckpoint
  public let layout: LlavaLayout
  public let head: LlavaHead
  public let report: LlavaTensorReport

  /// Loads `directory/config.json` and the weights (single file or shards). `head` defaults to
  /// the one the config's architecture implies.
  public convenience init(directory: String, head: LlavaHead? = nil) throws(CheckpointError) {
    let config = try LlavaConfig.load(directory: directory)
    let weights = try SafeTensorsCheckpoint(directory: directory)
    try self.init(config: config, weights: weights, head: head ?? config.head, source: directory)
  }

  /// Checks `weights` against `config`; `source` names the checkpoint in messages.
  public init(
    config: LlavaConfig,
    weights: SafeTensorsCheckpoint,
    head: LlavaHead,
    source: String
  ) throws(CheckpointError) {
    let layout = LlavaLayout.detect(weights.tensorNames)
    let report = Self.check(config: config, weights: weights, layout: layout, head: head)
    if !report.isUsable { throw Self.error(report, layout: layout, source: source) }
    self.config = config
    self.weights = weights
    self.layout = layout
    self.head = head
    self.report = report
  }

  /// The checkpoint's spelling of a canonical name.
  public func name(_ canonical: String) -> String { layout.name(forCanonical: canonical) }

  public func contains(_ canonical: String) -> Bool { weights.contains(name(canonical)) }

  /// The tensor for a canonical name (`LlavaWeightNames`). A tied model without an lm_head
  /// tensor answers `lm_head.weight` with the token embedding.
  public func tensor(_ canonical: String) throws(CheckpointError) -> TensorView {
    if canonical == LlavaWeightNames.lmHead, !contains(canonical), config.tieWordEmbeddings {
      return try weights.tensor(name(LlavaWeightNames.embedTokens))
    }
    return try weights.tensor(name(canonical))
  }

  /// Compares the names, shapes and dtypes of `weights` with what `config` implies.
  public static func check(
    config: LlavaConfig,
    weights: SafeTensorsCheckpoint,
    layout: LlavaLayout,
    head: LlavaHead
  ) -> LlavaTensorReport {
    var report = LlavaTensorReport()
    let expected = LlavaWeightNames.expected(for: config, head: head)
    let byName = Dictionary(expected.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    for tensor in expected {
      let actual = layout.name(forCanonical: tensor.name)
      guard let info = weights.info(actual) else {
        if tensor.required { report.missing.append(actual) }
        continue
      }
      if !tensor.required && !tensor.usedWhenPresent {
        report.unused.append(actual)
        continue
      }
      if let shape = tensor.shape, shape != info.shape {
        report.shapeMismatches.append("\(actual): expected \(shape), got \(info.shape)")
      }
      if !info.dtype.isConvertibleToFloat {
        report.unsupportedDTypes.append("\(actual): \(info.dtype)")
      }
    }
    for actual in weights.tensorNames where byName[layout.canonicalName(for: actual)] == nil {
      report.unexpected.append(actual)
    }
    return report
  }

  private static func error(_ report: LlavaTensorReport, layout: LlavaLayout, source: String)
    -> CheckpointError
  {
    var parts: [String] = []
    if !report.missing.isEmpty {
      parts.append("\(report.missing.count) missing tensors: \(listForMessage(report.missing))")
    }
    if !report.shapeMismatches.isEmpty {
      parts.append(
        "\(report.shapeMismatches.count) shape mismatches: \(listForMessage(report.shapeMismatches))"
      )
    }
    if !report.unsupportedDTypes.isEmpty {
      parts.append(
        "\(report.unsupportedDTypes.count) tensors of unsupported dtype (need F32, F16 or BF16): \(listForMessage(report.unsupportedDTypes))"
      )
    }
    if !report.unexpected.isEmpty {
      parts.append(
        "\(report.unexpected.count) unexpected tensors: \(listForMessage(report.unexpected))"
      )
    }
    let code: CheckpointError.Code =
      if !report.missing.isEmpty {
        .missingTensors
      } else if !report.shapeMismatches.isEmpty {
        .shapeMismatch
      } else if !report.unsupportedDTypes.isEmpty {
        .unsupportedDType
      } else {
        .unexpectedTensors
      }
    return CheckpointError(
      code,
      "\(source) does not match its config (layout: \(layout)): \(parts.joined(separator: "; "))"
    )
  }
}
