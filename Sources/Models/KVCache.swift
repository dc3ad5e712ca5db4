// One request's key/value cache: per layer `(Lmax, NKV, HS)` rows of keys and values after
// RoPE, filled from position 0. `count` rows are valid; the next forward appends after them.
import Checkpoints
import Engine

/// The keys and values of one sequence, `(layers, Lmax, NKV, HS)` each. A `~Copyable` value:
/// one owner (the request), moved between threads, freed with it.
public struct KVCache: ~Copyable {
  public let layers: Int
  /// `Lmax`: positions the cache can hold.
  public let capacity: Int
  public let NKV: Int
  public let HS: Int
  /// Positions filled so far (the `past` of the next forward).
  public internal(set) var count = 0
  let keys: Tensor  // (layers, Lmax, NKV, HS)
  let values: Tensor  // (layers, Lmax, NKV, HS)

  public init(layers: Int, capacity: Int, NKV: Int, HS: Int) {
    self.layers = layers
    self.capacity = capacity
    self.NKV = NKV
    self.HS = HS
    keys = Tensor(shape: [layers, capacity, NKV, HS])
    values = Tensor(shape: [layers, capacity, NKV, HS])
  }

  /// Floats per layer.
  var layerStride: Int { capacity * NKV * HS }

  /// Layer `layer`'s keys, `(Lmax, NKV, HS)`.
  public func keys(layer: Int) -> UnsafeMutablePointer<Float> {
    keys.data + layer * layerStride
  }

  /// Layer `layer`'s values, `(Lmax, NKV, HS)`.
  public func values(layer: Int) -> UnsafeMutablePointer<Float> {
    values.data + layer * layerStride
  }

  /// Forgets every position (the memory is reused).
  public mutating func reset() { count = 0 }
}
