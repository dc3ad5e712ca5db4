// Helpers for the paged-KV tests: physical blocks handed out in a scrambled order (so block
// tables are never contiguous or in order) and per-sequence batch entries.
import Models

/// A free list of physical block ids in a fixed scrambled order.
struct ScrambledBlocks {
  private var free: [Int32]

  /// Block `i` of the order is `(37 i + 11) mod blocks`, a permutation when 37 ∤ `blocks`.
  init(blocks: Int) {
    precondition(blocks % 37 != 0, "37 must be coprime to the block count")
    free = (0..<blocks).map { Int32(($0 * 37 + 11) % blocks) }
  }

  /// The next `count` free blocks.
  mutating func take(_ count: Int) -> [Int32] {
    precondition(count <= free.count, "out of blocks")
    defer { free.removeFirst(count) }
    return Array(free.prefix(count))
  }

  /// Blocks for `positions` positions of `blockSize`.
  mutating func take(positions: Int, blockSize: Int) -> [Int32] {
    take((positions + blockSize - 1) / blockSize)
  }
}

/// Row `row` of a row-major `(rows, width)` matrix.
func row(_ matrix: [Float], _ row: Int, width: Int) -> [Float] {
  Array(matrix[(row * width)..<((row + 1) * width)])
}
