// The compute thread the runners run every forward pass on (never the Swift cooperative pool),
// and a box for sharing an `Atomic` with it.
import Foundation

/// A `Sendable` wrapper for a value whose sharing is safe by construction (an `Atomic` here).
final class UnsafeSendableBox<Value: ~Copyable>: @unchecked Sendable {
  let value: Value
  init(_ value: consuming Value) { self.value = value }
}

/// One dedicated thread that runs submitted jobs in order.
final class ComputeThread: @unchecked Sendable {
  private let condition = NSCondition()
  private var jobs: [@Sendable () -> Void] = []
  private var thread: Thread?

  init(name: String) {
    let thread = Thread { [unowned self] in self.loop() }
    thread.name = name
    thread.stackSize = 16 << 20
    self.thread = thread
    thread.start()
  }

  func submit(_ job: @escaping @Sendable () -> Void) {
    condition.lock()
    jobs.append(job)
    condition.signal()
    condition.unlock()
  }

  private func loop() {
    while true {
      condition.lock()
      while jobs.isEmpty { condition.wait() }
      let job = jobs.removeFirst()
      condition.unlock()
      job()
    }
  }
}
