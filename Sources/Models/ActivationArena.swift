// llm.c-style activation memory: one `Tensor` per forward pass, every intermediate buffer an
// offset inside it, so a backward pass can address each activation of each layer.
// Per-layer buffers have `layerSlots` copies: all layers (kept for a backward pass) or one
// (inference: layer l reuses slot 0, so memory does not grow with depth).
import Engine

/// Offsets of buffers inside one allocation, each 64-byte aligned (16 floats).
struct ArenaLayout {
  private(set) var count = 0

  /// Reserves `elements` floats and returns their offset.
  mutating func add(_ elements: Int) -> Int {
    let offset = count
    count += (elements + 15) / 16 * 16
    return offset
  }
}

/// Which copy of a per-layer buffer a layer uses.
struct LayerSlots {
  /// Copies of every per-layer buffer: the layer count, or 1.
  let count: Int
  /// Floats from one copy of the per-layer buffers to the next.
  let stride: Int

  func offset(_ layer: Int) -> Int { count == 1 ? 0 : layer * stride }
}
