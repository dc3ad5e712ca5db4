// Training's compute runs on its own pthread, never on Swift's cooperative threads (two of them
// on this machine class, which the gRPC handlers need): each job gets a fresh thread with a large
// stack and the caller awaits its result. Jobs given a `TrainerCompute` run at its nice value with
// its pool as the thread's `ThreadPool.current`, so every kernel of the job (products included)
// runs on the trainer's low-priority threads, never on the shared pool serving uses. Other jobs
// run at the compute threads' priority (`ComputePriority`), below the threads that serve calls.
import Engine
import Foundation

/// The trainer's kernel threads: a pool of its own and the nice value of every training thread.
struct TrainerCompute: Sendable {
  let pool: ThreadPool
  let niceness: Int32

  init(threads: Int, niceness: Int) {
    self.niceness = Int32(niceness)
    pool = ThreadPool(
      threadCount: threads > 0 ? threads : ThreadPool.defaultThreadCount,
      niceness: self.niceness,
      name: "trainer-pool"
    )
  }
}

enum TrainingThread {
  /// Runs `body` on a new thread (on `compute`'s pool and priority when given) and returns its
  /// result.
  static func run<T: Sendable>(
    _ name: String,
    on compute: TrainerCompute? = nil,
    _ body: @escaping @Sendable () throws -> T
  ) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
      let thread = Thread {
        ComputePriority.lowerCurrentThread(name: name)
        guard let compute else {
          continuation.resume(with: Result { try body() })
          return
        }
        ComputePriority.lowerCurrentThread(toAtLeast: compute.niceness)
        continuation.resume(with: Result { try compute.pool.makeCurrent { try body() } })
      }
      thread.stackSize = 16 << 20
      thread.start()
    }
  }
}
