// Which pool a thread's kernels run on. Kernels take `pool: ThreadPool = .current`: the shared
// pool, unless the calling thread adopted another with `makeCurrent` (the trainer's pthread does,
// with a pool of low-priority threads, so that training never holds the shared pool's workers or
// competes with serving at the same priority). On a pool's worker threads `current` is `serial`:
// a kernel called inside a chunk runs on the thread that runs the chunk, never on another pool.
import Glibc

extension ThreadPool {
  /// The pool of the calling thread: the one it adopted with `makeCurrent`, else `shared`.
  public static var current: ThreadPool {
    guard let raw = pthread_getspecific(CurrentPoolKey.key) else { return shared }
    return Unmanaged<ThreadPool>.fromOpaque(raw).takeUnretainedValue()
  }

  /// A pool of one thread: `parallelFor` runs the whole range on its caller. The `current` pool
  /// of every pool's worker threads.
  public static let serial = ThreadPool(threadCount: 1)

  /// Makes `serial` the calling worker thread's `current` (called once as a worker starts).
  static func adoptSerialOnWorker() {
    pthread_setspecific(CurrentPoolKey.key, Unmanaged.passUnretained(serial).toOpaque())
  }

  /// Runs `body` with this pool as the calling thread's `current` (restored after).
  public func makeCurrent<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
    let previous = pthread_getspecific(CurrentPoolKey.key)
    pthread_setspecific(CurrentPoolKey.key, Unmanaged.passUnretained(self).toOpaque())
    defer { pthread_setspecific(CurrentPoolKey.key, previous) }
    return try withExtendedLifetime(self) { () throws(E) -> T in try body() }
  }
}

private enum CurrentPoolKey {
  nonisolated(unsafe) static let key: pthread_key_t = {
    var key = pthread_key_t()
    let status = pthread_key_create(&key, nil)
    precondition(status == 0, "pthread_key_create failed: \(status)")
    return key
  }()
}
