import Engine
import Testing

@Suite struct PagedAttentionTests {
  /// A contiguous cache `(L, NKV, HS)` scattered into a pool of `blocks` blocks through a
  /// shuffled block table (spare blocks hold noise, which a wrong lookup would read).
  static func scatter(
    _ cache: [Float],
    L: Int,
    rowSize: Int,
    blockSize: Int,
    table: [Int32],
    blocks: Int
  ) -> [Float] {
    var pool = randomFloats(blocks * blockSize * rowSize, seed: 99, scale: 10)
    for s in 0..<L {
      let physical = Int(table[s / blockSize]) * blockSize + s % blockSize
      pool.replaceSubrange(
        (physical * rowSize)..<((physical + 1) * rowSize),
        with: cache[(s * rowSize)..<((s + 1) * rowSize)]
      )
    }
    return pool
  }

  @Test(arguments: [
    (0, 7, 6, 2, 5, 4),  // prefill, GQA, partial last block, odd HS
    (3, 4, 6, 3, 16, 2),  // past > 0, blocks of 2
    (10, 1, 4, 1, 8, 4),  // decode, MQA
    (13, 1, 8, 2, 32, 16),  // decode inside the first block
    (37, 1, 6, 2, 16, 8),  // decode, GQA, partial last block
    (5, 37, 4, 2, 16, 8),  // T > blockSize, sgemm path
    (130, 140, 2, 1, 8, 16),  // more than one tile of query rows
    (0, 33, 4, 4, 64, 1),  // one position per block
    (37, 1, 8, 2, 64, 8),  // decode, 64 columns in registers, partial block of 6
    (21, 1, 4, 1, 128, 16),  // decode, two 64-column segments
    (9, 1, 4, 2, 72, 4),  // decode, 64 columns + an 8-column tail
  ])
  func pagedMatchesContiguous(
    past: Int,
    T: Int,
    NH: Int,
    NKV: Int,
    HS: Int,
    blockSize: Int
  ) {
    let L = past + T
    let rowSize = NKV * HS
    let q = randomFloats(T * NH * HS, seed: 1)  // (T, NH, HS)
    let keys = randomFloats(L * rowSize, seed: 2)  // (L, NKV, HS)
    let values = randomFloats(L * rowSize, seed: 3)  // (L, NKV, HS)
    let logical = (L + blockSize - 1) / blockSize
    let blocks = logical + 3
    var generator = SplitMix64(seed: UInt64(L * 31 + blockSize))
    let table = Array((0..<Int32(blocks)).shuffled(using: &generator).prefix(logical))
    let keyPool = Self.scatter(
      keys,
      L: L,
      rowSize: rowSize,
      blockSize: blockSize,
      table: table,
      blocks: blocks
    )
    let valuePool = Self.scatter(
      values,
      L: L,
      rowSize: rowSize,
      blockSize: blockSize,
      table: table,
      blocks: blocks
    )
    var reference = [Float](repeating: .nan, count: T * NH * HS)
    CausalAttention.forwardNaive(
      out: &reference,
      att: nil,
      q: q,
      keys: keys,
      values: values,
      past: past,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS
    )
    var fast = [Float](repeating: .nan, count: T * NH * HS)
    var naive = fast
    PagedAttention.forward(
      out: &fast,
      q: q,
      keyPool: keyPool,
      valuePool: valuePool,
      blockTable: table,
      blockSize: blockSize,
      past: past,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS
    )
    PagedAttention.forwardNaive(
      out: &naive,
      q: q,
      keyPool: keyPool,
      valuePool: valuePool,
      blockTable: table,
      blockSize: blockSize,
      past: past,
      T: T,
      NH: NH,
      NKV: NKV,
      HS: HS
    )
    let fastDelta = zip(fast, reference).map { abs($0 - $1) }.max() ?? .nan
    let naiveDelta = zip(naive, reference).map { abs($0 - $1) }.max() ?? .nan
    #expect(fastDelta <= 1e-5, "fast vs contiguous: \(fastDelta)")
    #expect(naiveDelta <= 1e-5, "naive vs contiguous: \(naiveDelta)")
  }

  /// A one-thread pool gives the same bits as the shared pool (heads are independent), on
  /// both paths; the sgemm path then calls BLAS from two threads at once.
  @Test(arguments: [1, 9])
  func poolSizeDoesNotChangeResults(T: Int) {
    let (past, NH, NKV, HS, blockSize) = (6, 4, 2, 8, 4)
    let q = randomFloats(T * NH * HS, seed: 4)  // (T, NH, HS)
    let keyPool = randomFloats(8 * blockSize * NKV * HS, seed: 5)  // (8, blockSize, NKV, HS)
    let valuePool = randomFloats(8 * blockSize * NKV * HS, seed: 6)
    let table: [Int32] = [7, 2, 5, 0]
    #expect(table.count * blockSize >= past + T)
    func run(_ pool: ThreadPool) -> [Float] {
      var out = [Float](repeating: .nan, count: T * NH * HS)
      PagedAttention.forward(
        out: &out,
        q: q,
        keyPool: keyPool,
        valuePool: valuePool,
        blockTable: table,
        blockSize: blockSize,
        past: past,
        T: T,
        NH: NH,
        NKV: NKV,
        HS: HS,
        pool: pool
      )
      return out
    }
    #expect(run(ThreadPool(threadCount: 1)) == run(.shared))
  }
}
