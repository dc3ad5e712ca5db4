// `policy_versions:` and `promoted_policy_version:` in the configuration.
import Daemon
import Serving
import Testing

@Suite struct VersionConfigurationTests {
  @Test func readsTheVersionsAndThePromotedOne() throws {
    let configuration = try DaemonConfiguration.parse(
      yaml: """
        policy_versions:
          - id: v1
            adapter: /adapters/v1
          - id: v2
            adapter: /adapters/v2
            parent: v1
        promoted_policy_version: v2
        """
    )
    #expect(
      configuration.policyVersions == [
        PolicyVersionConfiguration(id: "v1", adapter: "/adapters/v1"),
        PolicyVersionConfiguration(id: "v2", adapter: "/adapters/v2", parent: "v1"),
      ]
    )
    #expect(configuration.promotedPolicyVersion == "v2")
  }

  @Test func badVersionsAreNamed() {
    let cases: [(String, String)] = [
      ("policy_versions:\n  - id: v1\n    adaptor: /a\n", "policy_versions[0].adaptor"),
      ("policy_versions:\n  - id: base\n    adapter: /a\n", "used twice"),
      ("policy_versions:\n  - id: 'a b'\n    adapter: /a\n", "policy_versions[0].id"),
      ("policy_versions:\n  - id: v1\n    adapter: ''\n", "adapter' is empty"),
      ("policy_versions:\n  - id: v1\n    adapter: /a\n    parent: v9\n", "parent"),
      ("promoted_policy_version: v7\n", "promoted_policy_version"),
    ]
    for (yaml, words) in cases {
      do {
        _ = try DaemonConfiguration.parse(yaml: yaml)
        Issue.record("accepted: \(yaml)")
      } catch {
        #expect(error.message.contains(words), "\(error.message)")
      }
    }
  }
}
