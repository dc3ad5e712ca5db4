// Shared pieces of the config readers (config.json, preprocessor_config.json,
// adapter_config.json). These files are written by Python's json module and read here with
// JSONDecoder; omitted keys take the defaults of the transformers/PEFT class that wrote them.
import Foundation

/// A coding key built from any string, so one container can read every key a config may hold.
struct AnyKey: CodingKey, ExpressibleByStringLiteral {
  var stringValue: String
  var intValue: Int? { nil }
  init(stringValue: String) { self.stringValue = stringValue }
  init?(intValue: Int) { nil }
  init(stringLiteral value: String) { stringValue = value }
}

/// Either one integer or a list of them (`eos_token_id`, `vision_feature_layer`).
enum IntOrList: Decodable, Equatable {
  case one(Int)
  case list([Int])

  init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if let value = try? container.decode(Int.self) {
      self = .one(value)
    } else {
      self = .list(try container.decode([Int].self))
    }
  }

  var values: [Int] {
    switch self {
    case .one(let value): [value]
    case .list(let values): values
    }
  }
}

extension KeyedDecodingContainer where Key == AnyKey {
  /// The value at `key`, or `fallback` when the key is absent or null.
  func value<T: Decodable>(_ key: AnyKey, or fallback: T) throws -> T {
    try decodeIfPresent(T.self, forKey: key) ?? fallback
  }

  func optional<T: Decodable>(_ key: AnyKey) throws -> T? {
    try decodeIfPresent(T.self, forKey: key)
  }
}

enum ConfigDecoding {
  /// Decodes `T` from the JSON file at `path`, turning every failure into `.invalidConfig`.
  static func load<T: Decodable>(_ type: T.Type, from path: String) throws(CheckpointError) -> T {
    try decode(type, from: Data(try FileIO.read(path)), file: path)
  }

  static func decode<T: Decodable>(_ type: T.Type, from data: Data, file: String)
    throws(CheckpointError) -> T
  {
    do {
      return try JSONDecoder().decode(type, from: data)
    } catch let error as CheckpointError {
      throw CheckpointError(error.code, "\(file): \(error.message)")
    } catch let error as DecodingError {
      throw CheckpointError(.invalidConfig, "\(file): \(describe(error))")
    } catch {
      throw CheckpointError(.invalidConfig, "\(file): \(error)")
    }
  }

  private static func describe(_ error: DecodingError) -> String {
    func path(_ keys: [any CodingKey]) -> String {
      keys.isEmpty
        ? "top level"
        : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
    switch error {
    case .typeMismatch(let type, let context):
      return "\(path(context.codingPath)): expected \(type)"
    case .valueNotFound(let type, let context):
      return "\(path(context.codingPath)): expected \(type), found null"
    case .keyNotFound(let key, let context):
      return "\(path(context.codingPath + [key])): required key is missing"
    case .dataCorrupted(let context):
      return "\(path(context.codingPath)): \(context.debugDescription)"
    @unknown default:
      return "\(error)"
    }
  }
}

/// An invalid-config error raised inside `init(from:)`; `ConfigDecoding` prefixes the file.
func invalidConfig(_ message: String) -> CheckpointError {
  CheckpointError(.invalidConfig, message)
}

func unsupported(_ message: String) -> CheckpointError {
  CheckpointError(.unsupportedArchitecture, message)
}
