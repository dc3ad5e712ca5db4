import CBLAS

/// Every fp32 matrix product the engine hands to OpenBLAS goes through here: row-major
/// `C(M, N) = alpha · op(A)(M, K) · op(B)(K, N) + beta · C`.
///
/// When OpenBLAS runs single-threaded (`BLASThreads.useEnginePools`, the daemon's setting) a
/// product big enough to be worth a fork is split over `pool` into blocks of C's rows (or of
/// its columns when N > M), one single-threaded `cblas_sgemm` per block, so that products run on
/// the pool of the calling thread — the shared pool for serving, the trainer's low-priority pool
/// for training — and never queue behind another thread's product in OpenBLAS's global level-3
/// lock. When OpenBLAS has threads of its own, the product is one call, threaded by OpenBLAS.
/// The reference is `forwardNaive` / `backwardNaive` of the kernels that call it, and
/// `SGEMMTests` compares every split with a naive product.
public enum SGEMM {
  public enum Operand: Sendable { case normal, transposed }

  /// Products below this many multiply-adds run as one call (OpenBLAS's own threshold for
  /// threading: 65 536 × 4).
  static let splitMultiplyAdds = 262_144

  public static func product(
    _ opA: Operand,
    _ opB: Operand,
    M: Int,
    N: Int,
    K: Int,
    alpha: Float,
    _ a: UnsafePointer<Float>,  // op(A): (M, K); stored (M, lda) or transposed (K, lda)
    lda: Int,
    _ b: UnsafePointer<Float>,  // op(B): (K, N); stored (K, ldb) or transposed (N, ldb)
    ldb: Int,
    beta: Float,
    _ c: UnsafeMutablePointer<Float>,  // (M, ldc)
    ldc: Int,
    pool: ThreadPool = .current
  ) {
    Product(opA, opB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc).run(pool: pool)
  }

  /// One product's operands, positionally in `cblas_sgemm`'s order (row-major, no `Order`).
  public struct Product {
    let opA: Operand
    let opB: Operand
    let M: Int
    let N: Int
    let K: Int
    let alpha: Float
    let a: UnsafePointer<Float>
    let lda: Int
    let b: UnsafePointer<Float>
    let ldb: Int
    let beta: Float
    let c: UnsafeMutablePointer<Float>
    let ldc: Int

    public init(
      _ opA: Operand,
      _ opB: Operand,
      _ M: Int,
      _ N: Int,
      _ K: Int,
      _ alpha: Float,
      _ a: UnsafePointer<Float>,
      _ lda: Int,
      _ b: UnsafePointer<Float>,
      _ ldb: Int,
      _ beta: Float,
      _ c: UnsafeMutablePointer<Float>,
      _ ldc: Int
    ) {
      (self.opA, self.opB, self.M, self.N, self.K, self.alpha) = (opA, opB, M, N, K, alpha)
      (self.a, self.lda, self.b, self.ldb) = (a, lda, b, ldb)
      (self.beta, self.c, self.ldc) = (beta, c, ldc)
    }

    /// Computes it on `pool` (split when OpenBLAS is single-threaded and the product is big).
    public func run(pool: ThreadPool = .current) {
      let parts = BLASThreads.count == 1 && M * N * K >= splitMultiplyAdds ? pool.threadCount : 1
      run(parts: parts, pool: pool)
    }

    /// Computes it in at most `parts` blocks (1 = one call).
    func run(parts: Int, pool: ThreadPool) {
      guard M > 0, N > 0 else { return }
      guard K > 0 else {
        // An empty product (BLAS rejects a leading dimension of 0): C = beta · C.
        for m in 0..<M {
          let row = c + m * ldc
          for n in 0..<N { row[n] = beta == 0 ? 0 : beta * row[n] }
        }
        return
      }
      guard parts > 1 else { return call() }
      if M >= N {
        pool.parallelFor(M, minimumChunk: max(1, M / parts)) { rows($0).call() }
      } else {
        pool.parallelFor(N, minimumChunk: max(1, N / parts)) { columns($0).call() }
      }
    }

    /// Rows `r` of C: the same rows of op(A).
    func rows(_ r: Range<Int>) -> Product {
      let rowsOfA = opA == .normal ? a + r.lowerBound * lda : a + r.lowerBound
      return Product(
        opA,
        opB,
        r.count,
        N,
        K,
        alpha,
        rowsOfA,
        lda,
        b,
        ldb,
        beta,
        c + r.lowerBound * ldc,
        ldc
      )
    }

    /// Columns `r` of C: the same columns of op(B).
    func columns(_ r: Range<Int>) -> Product {
      let columnsOfB = opB == .normal ? b + r.lowerBound : b + r.lowerBound * ldb
      return Product(
        opA,
        opB,
        M,
        r.count,
        K,
        alpha,
        a,
        lda,
        columnsOfB,
        ldb,
        beta,
        c + r.lowerBound,
        ldc
      )
    }

    private func call() {
      cblas_sgemm(
        CblasRowMajor,
        opA == .normal ? CblasNoTrans : CblasTrans,
        opB == .normal ? CblasNoTrans : CblasTrans,
        blasint(M),
        blasint(N),
        blasint(K),
        alpha,
        a,
        blasint(lda),
        b,
        blasint(ldb),
        beta,
        c,
        blasint(ldc)
      )
    }
  }
}
