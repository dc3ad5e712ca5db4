// Training's compute runs on its own pthread, never on Swift's cooperative threads (two of them
// on this machine class, which the gRPC handlers need): each job gets a fresh thread with a large
// stack and the caller awaits its result. The thread runs at the compute threads' priority
// (`ComputePriority`), below the threads that serve calls.
import Engine
import Foundation

enum TrainingThread {
  /// Runs `body` on a new thread and returns its result.
  static func run<T: Sendable>(
    _ name: String,
    _ body: @escaping @Sendable () throws -> T
  ) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
      let thread = Thread {
        ComputePriority.lowerCurrentThread(name: name)
        continuation.resume(with: Result { try body() })
      }
      thread.stackSize = 16 << 20
      thread.start()
    }
  }
}
