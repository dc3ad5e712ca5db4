import Daemon
import Engine
import Foundation
import Serving
import Testing

@Suite struct StateDirectoryTests {
  @Test func defaultFollowsSystemdThenXDGThenHome() {
    let path = StateDirectory.defaultPath
    #expect(
      path(["STATE_DIRECTORY": "/var/lib/rlhfd:/var/lib/other", "HOME": "/h"]) == "/var/lib/rlhfd"
    )
    #expect(path(["XDG_STATE_HOME": "/x/state", "HOME": "/h"]) == "/x/state/rlhfd")
    #expect(path(["XDG_STATE_HOME": "relative", "HOME": "/h"]) == "/h/.local/state/rlhfd")
    #expect(path(["HOME": "/h"]) == "/h/.local/state/rlhfd")
    #expect(path([:]) == nil)
  }

  @Test func isCreatedWithItsParents() throws {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent(
      "rlhfd-state-\(UUID())"
    )
    defer { try? FileManager.default.removeItem(at: base) }
    let path = base.appendingPathComponent("a/b").path
    #expect(try StateDirectory.prepare(path) == path)
    var isDirectory: ObjCBool = false
    #expect(
      FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        && isDirectory.boolValue
    )
    #expect(try StateDirectory.prepare(path) == path)  // again: fine
    #expect(throws: ConfigurationError.self) { try StateDirectory.prepare("/proc/rlhfd-state") }
  }

  @Test func settingsAreReadAndChecked() throws {
    let configuration = try DaemonConfiguration.parse(
      yaml: "state_directory: /var/lib/rlhfd\nblas_core: skylakex\n"
    )
    #expect(configuration.stateDirectory == "/var/lib/rlhfd")
    #expect(configuration.blasCoreSetting == .core("SkylakeX"))
    #expect(DaemonConfiguration().blasCoreSetting == .auto)
    #expect(try DaemonConfiguration.parse(yaml: "blas_core: keep").blasCoreSetting == .keep)
    for (yaml, words) in [
      ("blas_core: fastest", "'blas_core' must be auto, keep or an OpenBLAS 0.3.21 core name"),
      ("state_directory: ''", "'state_directory' is empty"),
    ] {
      #expect(throws: ConfigurationError.self) { try DaemonConfiguration.parse(yaml: yaml) }
      do { _ = try DaemonConfiguration.parse(yaml: yaml) } catch {
        #expect(error.message.contains(words), "\(error.message)")
      }
    }
  }
}
