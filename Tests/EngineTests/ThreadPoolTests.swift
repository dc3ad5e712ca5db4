import Engine
import Glibc
import Synchronization
import Testing

@Suite struct ThreadPoolTests {
  @Test(arguments: [1, 2, 3])
  func everyIndexRunsExactlyOnce(threads: Int) {
    let pool = ThreadPool(threadCount: threads)
    for count in [0, 1, 2, 3, 5, 64, 1001] {
      let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
      hits.initialize(repeating: 0, count: max(count, 1))
      defer { hits.deallocate() }
      pool.parallelFor(count) { range in
        for i in range { hits[i] += 1 }
      }
      #expect((0..<count).allSatisfy { hits[$0] == 1 }, "count \(count)")
    }
  }

  @Test func chunksAreContiguousAndBalanced() {
    let chunks = (0..<3).map { ThreadPool.chunk($0, of: 3, count: 10) }
    #expect(chunks == [0..<4, 4..<7, 7..<10])
  }

  @Test func usesMoreThanOneThread() {
    let pool = ThreadPool(threadCount: 2)
    let threads = UnsafeMutablePointer<UInt>.allocate(capacity: 2)
    defer { threads.deallocate() }
    pool.parallelFor(2) { range in threads[range.lowerBound] = pthread_self() }
    #expect(threads[0] != threads[1])
  }

  @Test func nestedCallsRunSeriallyWithoutDeadlock() {
    let pool = ThreadPool(threadCount: 2)
    let total = Atomic<Int>(0)
    pool.parallelFor(4) { outer in
      pool.parallelFor(10) { inner in
        total.add(outer.count * inner.count, ordering: .relaxed)
      }
    }
    #expect(total.load(ordering: .relaxed) == 40)
  }

  @Test func manyShortJobsInARow() {
    let pool = ThreadPool(threadCount: 2)
    let total = Atomic<Int>(0)
    for _ in 0..<2000 {
      pool.parallelFor(2) { range in total.add(range.count, ordering: .relaxed) }
    }
    #expect(total.load(ordering: .relaxed) == 4000)
  }
}
