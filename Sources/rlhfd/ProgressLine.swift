// Progress on stderr: a bar redrawn in place (at most 10 times a second) on a terminal, plain
// lines (every 10 %) otherwise, so that logs of a piped run stay readable.
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

struct ProgressLine {
  let label: String
  let total: Int
  private let isTerminal = isatty(STDERR_FILENO) == 1
  private var lastDraw = Date.distantPast
  private var lastTenth = -1

  init(label: String, total: Int) {
    self.label = label
    self.total = total
  }

  mutating func update(done: Int, detail: String) {
    let fraction = total == 0 ? 1 : Double(done) / Double(total)
    if isTerminal {
      guard done == total || Date().timeIntervalSince(lastDraw) >= 0.1 else { return }
      lastDraw = Date()
      let width = 30
      let filled = Int(fraction * Double(width))
      let bar =
        String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
      let percent = Int(fraction * 100)
      write("\r\u{1B}[2K\(label) [\(bar)] \(percent)% \(done)/\(total) \(detail)")
      if done == total { write("\n") }
    } else {
      let tenth = Int(fraction * 10)
      guard tenth != lastTenth else { return }
      lastTenth = tenth
      write("\(label): \(done)/\(total) (\(tenth * 10)%) \(detail)\n")
    }
  }

  private func write(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
  }
}
