// `log_format: json`: one JSON object per line on stderr, which journald keeps as the message
// and log tools (journalctl -o cat | jq, Loki, Vector) read as fields: time, level, label,
// message, module, and the metadata (request_id inside an RPC, the caller's fields).
import Checkpoints
import Foundation
public import Logging

public struct JSONLogHandler: LogHandler {
  public var logLevel: Logger.Level = .info
  public var metadata: Logger.Metadata = [:]
  public var metadataProvider: Logger.MetadataProvider?
  let label: String

  public init(label: String, metadataProvider: Logger.MetadataProvider?) {
    self.label = label
    self.metadataProvider = metadataProvider
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    var fields = metadata
    if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
    if let extra = event.metadata { fields.merge(extra) { _, new in new } }
    var line = "{\"time\":\(JSONText.quoted(Self.timestamp()))"
    line += ",\"level\":\(JSONText.quoted(event.level.rawValue))"
    line += ",\"label\":\(JSONText.quoted(label))"
    line += ",\"message\":\(JSONText.quoted("\(event.message)"))"
    line += ",\"module\":\(JSONText.quoted(event.source))"
    for key in fields.keys.sorted() {
      // A metadata key that names one of the fixed fields keeps its value under `meta_<key>`.
      let name = Self.fixed.contains(key) ? "meta_" + key : key
      line += ",\(JSONText.quoted(name)):\(JSONText.quoted("\(fields[key]!)"))"
    }
    line += "}\n"
    FileHandle.standardError.write(Data(line.utf8))
  }

  /// The fields every line has.
  static let fixed: Set<String> = ["time", "level", "label", "message", "module"]

  /// RFC 3339 UTC with milliseconds.
  static func timestamp() -> String {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    var seconds = now.tv_sec
    var parts = tm()
    gmtime_r(&seconds, &parts)
    return String(
      format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
      parts.tm_year + 1900,
      parts.tm_mon + 1,
      parts.tm_mday,
      parts.tm_hour,
      parts.tm_min,
      parts.tm_sec,
      now.tv_nsec / 1_000_000
    )
  }
}
