import Glibc

/// Runs a program to its end, or kills it at a deadline, and collects its output (stdout and
/// stderr together). Used for the kernel probes: a kernel set that faults or hangs takes down
/// a child, never the daemon. posix_spawn, no threads: safe before the runtime starts any.
public enum ChildProcess {
  public enum Termination: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)
    case timedOut

    public var description: String {
      switch self {
      case .exited(let code): "exited with status \(code)"
      case .signaled(let signal):
        "killed by signal \(signal) (\(String(cString: strsignal(signal))))"
      case .timedOut: "timed out"
      }
    }
  }

  public struct Outcome: Sendable, Equatable {
    public var termination: Termination
    /// stdout and stderr, at most 64 KiB.
    public var output: String
  }

  /// Runs `path` with `arguments` (argv[1...]) and exactly `environment`.
  public static func run(
    _ path: String,
    arguments: [String],
    environment: [String: String],
    timeout: Duration
  ) throws(BLASCoreError) -> Outcome {
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else {
      throw BLASCoreError("cannot create a pipe: \(TextFile.errnoText())")
    }
    for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }  // only the dup2 copies reach the child
    defer { close(fds[0]) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let envp =
      environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for pointer in argv + envp { free(pointer) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
    close(fds[1])
    guard spawned == 0 else {
      throw BLASCoreError("cannot start \(path): \(String(cString: strerror(spawned)))")
    }
    return Self.collect(pid: pid, fd: fds[0], deadline: .now + timeout)
  }

  /// Reads `fd` until EOF and waits for `pid`, killing it (SIGKILL) at `deadline`.
  private static func collect(pid: pid_t, fd: Int32, deadline: ContinuousClock.Instant) -> Outcome {
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    var readable = true
    var status: Int32 = 0
    while true {
      let left = deadline - .now
      if left <= .zero {
        kill(pid, SIGKILL)
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return Outcome(termination: .timedOut, output: Self.text(output))
      }
      let milliseconds = Int32(clamping: Int((left / .milliseconds(1)).rounded(.up)))
      if readable {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, min(milliseconds, 100)) > 0 else { continue }
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n > 0 {
          if output.count < 65536 { output += buffer[0..<n] }
        } else if n == 0 || errno != EINTR {
          readable = false
        }
      } else if waitpid(pid, &status, WNOHANG) == pid {
        let signal = status & 0x7F
        let termination: Termination =
          signal == 0 ? .exited((status >> 8) & 0xFF) : .signaled(signal)
        return Outcome(termination: termination, output: Self.text(output))
      } else {
        usleep(5000)
      }
    }
  }

  private static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}
