import Checkpoints
import Foundation
import Testing

@testable import Daemon

/// `log_format: json`: string escaping and the fixed fields (the lines themselves are parsed by
/// Tests/Interop/test_request_id.py through the real binary).
@Suite struct JSONLogHandlerTests {
  @Test func quotesLikeJSON() throws {
    let samples = ["plain", "quote \" and \\ back", "line\nbreak\ttab\r", "\u{01}\u{1f}", "é ☃ 🐙"]
    for text in samples {
      let quoted = JSONText.quoted(text)
      let parsed =
        try JSONSerialization.jsonObject(
          with: Data("[\(quoted)]".utf8)
        ) as? [String]
      #expect(parsed == [text], "\(quoted)")
    }
  }

  @Test func timestampIsRFC3339UTCWithMilliseconds() {
    let stamp = JSONLogHandler.timestamp()
    #expect(stamp.count == 24 && stamp.hasSuffix("Z") && stamp.contains("T"), "\(stamp)")
  }

  @Test func configurationRefusesOtherFormats() {
    #expect(throws: (any Error).self) {
      try DaemonConfiguration.parse(yaml: "log_format: xml\n").validate()
    }
    #expect(throws: Never.self) {
      try DaemonConfiguration.parse(yaml: "log_format: json\n").validate()
    }
  }
}
