// Keys and values of many sequences in one preallocated pool of fixed-size blocks (vLLM's
// paged KV cache): per layer `(blocks, blockSize, NKV, HS)` for keys and for values, after RoPE.
// The pool knows nothing of sequences: a caller (the scheduler) owns the block ids and gives
// each forward a block table per sequence, so blocks can be shared by sequences with a common
// prefix and reused when a sequence finishes.
import Checkpoints
import Engine

/// The paged key/value pool of one language model. Allocated once; block ids are
/// `0 ..< blocks`. A class so that one pool outlives and is shared by many forwards; it is
/// `@unchecked Sendable` because it is used from one thread at a time (the scheduler thread).
public final class PagedKVCache: @unchecked Sendable {
  public let layers: Int
  /// Physical blocks per layer.
  public let blocks: Int
  /// Positions per block.
  public let blockSize: Int
  public let NKV: Int
  public let HS: Int
  private let keys: Tensor  // (layers, blocks, blockSize, NKV, HS)
  private let values: Tensor  // (layers, blocks, blockSize, NKV, HS)

  public init(layers: Int, blocks: Int, blockSize: Int, NKV: Int, HS: Int) {
    precondition(layers > 0 && blocks > 0 && blockSize > 0, "an empty paged KV cache")
    self.layers = layers
    self.blocks = blocks
    self.blockSize = blockSize
    self.NKV = NKV
    self.HS = HS
    keys = Tensor(shape: [layers, blocks, blockSize, NKV, HS])
    values = Tensor(shape: [layers, blocks, blockSize, NKV, HS])
  }

  /// Bytes one block takes over all layers, keys and values (fp32).
  public static func bytesPerBlock(layers: Int, blockSize: Int, NKV: Int, HS: Int) -> Int {
    2 * layers * blockSize * NKV * HS * MemoryLayout<Float>.size
  }

  /// Bytes one block of this cache takes over all layers, keys and values.
  public var bytesPerBlock: Int {
    Self.bytesPerBlock(layers: layers, blockSize: blockSize, NKV: NKV, HS: HS)
  }

  /// Floats per layer.
  var layerStride: Int { blocks * blockSize * NKV * HS }

  /// Layer `layer`'s key pool, `(blocks, blockSize, NKV, HS)`.
  public func keys(layer: Int) -> UnsafeMutablePointer<Float> {
    keys.data + layer * layerStride
  }

  /// Layer `layer`'s value pool, `(blocks, blockSize, NKV, HS)`.
  public func values(layer: Int) -> UnsafeMutablePointer<Float> {
    values.data + layer * layerStride
  }

  /// Copies block `source` over block `destination` in every layer (copy-on-write: a sequence
  /// that shares a partly filled prefix block gets its own copy before writing into it).
  public func copyBlock(_ source: Int, to destination: Int) {
    precondition(source >= 0 && source < blocks && destination >= 0 && destination < blocks)
    let size = blockSize * NKV * HS
    for l in 0..<layers {
      for pool in [keys(layer: l), values(layer: l)] {
        (pool + destination * size).update(from: pool + source * size, count: size)
      }
    }
  }
}

extension LanguageModel {
  /// A paged pool of `blocks` blocks of `blockSize` positions for this model's decoder.
  public func makePagedCache(blocks: Int, blockSize: Int) -> PagedKVCache {
    PagedKVCache(
      layers: config.numHiddenLayers,
      blocks: blocks,
      blockSize: blockSize,
      NKV: config.numKeyValueHeads,
      HS: config.headDim
    )
  }

  /// Bytes of KV cache one position takes over all layers, keys and values (fp32): for sizing
  /// a pool from a memory budget.
  public var kvBytesPerPosition: Int {
    PagedKVCache.bytesPerBlock(
      layers: config.numHiddenLayers,
      blockSize: 1,
      NKV: config.numKeyValueHeads,
      HS: config.headDim
    )
  }
}
