import Testing

@testable import Engine

@Suite struct ChildProcessTests {
  let environment = ["PATH": "/usr/bin:/bin"]

  @Test func collectsOutputAndStatus() throws {
    let outcome = try ChildProcess.run(
      "/bin/sh",
      arguments: ["-c", "echo out; echo err >&2; echo $FOO; exit 3"],
      environment: self.environment.merging(["FOO": "bar"]) { $1 },
      timeout: .seconds(20)
    )
    #expect(outcome.termination == .exited(3))
    #expect(outcome.output.split(separator: "\n").sorted() == ["bar", "err", "out"])
  }

  @Test func reportsASignalAndATimeout() throws {
    let killed = try ChildProcess.run(
      "/bin/sh",
      arguments: ["-c", "kill -ILL $$"],
      environment: self.environment,
      timeout: .seconds(20)
    )
    #expect(killed.termination == .signaled(4))
    let started = ContinuousClock.now
    let hung = try ChildProcess.run(
      "/bin/sh",
      arguments: ["-c", "exec sleep 30"],
      environment: self.environment,
      timeout: .milliseconds(300)
    )
    #expect(hung.termination == .timedOut)
    #expect(ContinuousClock.now - started < .seconds(10))
  }

  @Test func aMissingProgramIsAnError() {
    #expect(throws: BLASCoreError.self) {
      try ChildProcess.run(
        "/nonexistent/probe",
        arguments: [],
        environment: [:],
        timeout: .seconds(5)
      )
    }
  }
}
