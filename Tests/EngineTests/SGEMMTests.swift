import Glibc
import Testing

@testable import Engine

@Suite struct SGEMMTests {
  /// C = alpha · op(A) · op(B) + beta · C in Double, the reference for every split.
  static func naive(
    _ opA: SGEMM.Operand,
    _ opB: SGEMM.Operand,
    M: Int,
    N: Int,
    K: Int,
    alpha: Float,
    a: [Float],
    lda: Int,
    b: [Float],
    ldb: Int,
    beta: Float,
    c: [Float],
    ldc: Int
  ) -> [Float] {
    var out = c
    for m in 0..<M {
      for n in 0..<N {
        var sum = 0.0
        for k in 0..<K {
          let x = opA == .normal ? a[m * lda + k] : a[k * lda + m]
          let y = opB == .normal ? b[k * ldb + n] : b[n * ldb + k]
          sum += Double(x) * Double(y)
        }
        out[m * ldc + n] = Float(Double(alpha) * sum + Double(beta) * Double(c[m * ldc + n]))
      }
    }
    return out
  }

  /// Every operand layout, split by rows (M ≥ N) and by columns (N > M), into 1, 2 and 3
  /// blocks, with padded leading dimensions and beta ≠ 0: the same as the reference.
  @Test(arguments: [(37, 11, 13), (9, 41, 7), (64, 64, 32)])
  func splitsMatchTheReference(shape: (Int, Int, Int)) {
    let (M, N, K) = shape
    let pool = ThreadPool(threadCount: 3)
    for opA in [SGEMM.Operand.normal, .transposed] {
      for opB in [SGEMM.Operand.normal, .transposed] {
        let lda = (opA == .normal ? K : M) + 3
        let ldb = (opB == .normal ? N : K) + 2
        let ldc = N + 5
        let a = randomFloats((opA == .normal ? M : K) * lda, seed: 1)
        let b = randomFloats((opB == .normal ? K : N) * ldb, seed: 2)
        let c0 = randomFloats(M * ldc, seed: 3)
        let expected = Self.naive(
          opA,
          opB,
          M: M,
          N: N,
          K: K,
          alpha: 0.5,
          a: a,
          lda: lda,
          b: b,
          ldb: ldb,
          beta: 0.25,
          c: c0,
          ldc: ldc
        )
        for parts in 1...3 {
          var c = c0
          c.withUnsafeMutableBufferPointer { c in
            SGEMM.Product(opA, opB, M, N, K, 0.5, a, lda, b, ldb, 0.25, c.baseAddress!, ldc)
              .run(parts: parts, pool: pool)
          }
          expectClose(c, expected, tolerance: 1e-4)
        }
      }
    }
  }

  /// The public entry gives the same as one call whatever OpenBLAS's thread count.
  @Test func productMatchesReference() {
    let (M, N, K) = (96, 80, 64)
    let a = randomFloats(M * K, seed: 4)
    let b = randomFloats(N * K, seed: 5)
    var c = [Float](repeating: 0, count: M * N)
    SGEMM.product(
      .normal,
      .transposed,
      M: M,
      N: N,
      K: K,
      alpha: 1,
      a,
      lda: K,
      b,
      ldb: K,
      beta: 0,
      &c,
      ldc: N
    )
    let expected = Self.naive(
      .normal,
      .transposed,
      M: M,
      N: N,
      K: K,
      alpha: 1,
      a: a,
      lda: K,
      b: b,
      ldb: K,
      beta: 0,
      c: c.map { _ in 0 },
      ldc: N
    )
    expectClose(c, expected, tolerance: 1e-4)
  }
}

@Suite struct ThreadPoolCurrentTests {
  @Test func makeCurrentScopesThePool() {
    let pool = ThreadPool(threadCount: 2)
    #expect(ThreadPool.current === ThreadPool.shared)
    pool.makeCurrent {
      #expect(ThreadPool.current === pool)
      ThreadPool.serial.makeCurrent { #expect(ThreadPool.current === ThreadPool.serial) }
      #expect(ThreadPool.current === pool)
    }
    #expect(ThreadPool.current === ThreadPool.shared)
  }

  /// A pool's workers run at its nice value and see `serial` as their pool, so a kernel inside
  /// a chunk never forks onto another pool (the trainer's chunks never use serving's pool).
  @Test func workersRunAtTheirNicenessOnTheSerialPool() {
    let pool = ThreadPool(threadCount: 2, niceness: 7)
    let callerNice = ComputePriority.currentThreadNiceness
    var seen: [(nice: Int32, serial: Bool)] = Array(repeating: (0, false), count: 2)
    seen.withUnsafeMutableBufferPointer { out in
      let out = out
      pool.parallelFor(2) { range in
        for i in range {
          out[i] = (ComputePriority.currentThreadNiceness, ThreadPool.current === ThreadPool.serial)
        }
      }
    }
    // Chunk 0 runs on the caller (its own nice value and pool), chunk 1 on the worker.
    #expect(seen[0].nice == callerNice)
    #expect(seen[0].serial == false)
    #expect(seen[1].nice == max(callerNice, 7))
    #expect(seen[1].serial)
  }
}
