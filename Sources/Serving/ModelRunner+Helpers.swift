// Helpers of the policy runner: model-error mapping, timing, and stop-string matching over the
// UTF-8 bytes generated so far.
import Imaging
import Models
import ServingTypes

extension ModelRunner {
  static func modelError(_ error: ModelError) -> BackendError {
    switch error {
    case .contextOverflow, .imageTokenCountMismatch, .tokenOutOfRange, .emptyInput:
      BackendError(.invalidArgument, "\(error)")
    default: BackendError(.internalError, "model: \(error)")
    }
  }

  static func milliseconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) * 1000 + Double(attoseconds) / 1e15
  }
}

extension ModelRunner {
  /// The `Image.sha256` of image bytes.
  public static func imageKey(_ bytes: [UInt8]) -> String { ImageFeatureKey(bytes: bytes).hex }
}

/// Stop strings over the UTF-8 bytes generated so far.
enum StopStrings {
  /// The byte offset of the earliest stop string in `text` (searching from `from`).
  static func firstMatch(of stops: [[UInt8]], in text: [UInt8], from: Int) -> Int? {
    var best: Int?
    for stop in stops where !stop.isEmpty && stop.count <= text.count {
      var i = max(0, from)
      while i + stop.count <= text.count {
        if text[i] == stop[0] && text[i..<(i + stop.count)].elementsEqual(stop) {
          if best == nil || i < best! { best = i }
          break
        }
        i += 1
      }
    }
    return best
  }

  /// How many trailing bytes of `text` (after `from`) could start a stop string, and so must
  /// not be streamed yet.
  static func heldBack(_ stops: [[UInt8]], text: [UInt8], from: Int) -> Int {
    var held = 0
    for stop in stops {
      var length = min(stop.count - 1, text.count - from)
      while length > held {
        if text[(text.count - length)...].elementsEqual(stop[0..<length]) {
          held = length
          break
        }
        length -= 1
      }
    }
    return held
  }
}
