import Glibc
import Testing

@testable import Engine

/// The per-thread part of `ComputePriority` on fresh threads (the process-wide `set`, which
/// restarts OpenBLAS's threads, is checked on the daemon by the reliability suite: it must not
/// run while other tests call BLAS).
@Suite struct ComputePriorityTests {
  /// (nice value, name) of a fresh thread after `body` ran on it.
  private func onFreshThread(_ body: @escaping () -> Void) -> (nice: Int32, name: String) {
    final class Box {
      let body: () -> Void
      var nice: Int32 = 0
      var name = ""
      init(_ body: @escaping () -> Void) { self.body = body }
    }
    let box = Box(body)
    let context = Unmanaged.passRetained(box)
    var thread = pthread_t()
    let status = pthread_create(
      &thread,
      nil,
      { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeUnretainedValue()
        box.body()
        box.nice = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        box.name =
          (try? TextFile.read("/proc/thread-self/comm"))?
          .trimmingSuffix("\n") ?? ""
        return nil
      },
      context.toOpaque()
    )
    #expect(status == 0)
    pthread_join(thread, nil)
    context.release()
    return (box.nice, box.name)
  }

  private var processNice: Int32 {
    getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(getpid()))
  }

  @Test func lowersOnlyTheCallingThreadRelativeToTheProcess() {
    let base = processNice
    let lowered = onFreshThread { ComputePriority.lower(thread: 0, by: 3) }
    #expect(lowered.nice == min(19, base + 3))
    // The process (its main thread) and the test's own thread keep their priority.
    #expect(processNice == base)
    let untouched = onFreshThread {}
    #expect(untouched.nice == base)
  }

  @Test func isIdempotentAndNeverRaisesAThreadBack() {
    let base = processNice
    let twice = onFreshThread {
      ComputePriority.lower(thread: 0, by: 4)
      ComputePriority.lower(thread: 0, by: 4)
    }
    #expect(twice.nice == min(19, base + 4))
    let thenLess = onFreshThread {
      ComputePriority.lower(thread: 0, by: 6)
      ComputePriority.lower(thread: 0, by: 2)
    }
    #expect(thenLess.nice == min(19, base + 6))
  }

  @Test func namesTheThreadForTopAndProc() {
    let named = onFreshThread { ComputePriority.setThreadName("engine-pool-long-name") }
    #expect(named.name == "engine-pool-lon")  // the kernel keeps 15 bytes
  }

  @Test func offByDefault() {
    // Nothing in this test process sets it: compute threads run at the process's priority.
    #expect(ComputePriority.niceness == 0)
    let worker = onFreshThread { ComputePriority.lowerCurrentThread() }
    #expect(worker.nice == processNice)
  }
}

extension String {
  fileprivate func trimmingSuffix(_ suffix: String) -> String {
    hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
  }
}
