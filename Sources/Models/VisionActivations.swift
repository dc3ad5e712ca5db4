// The vision tower's activations: one `Tensor`, every buffer an offset (llm.c's
// ActivationTensors). Hidden states (the residual stream after each layer) are always kept;
// the other per-layer buffers keep every layer only when asked (for a backward pass).
import Checkpoints
import Engine

/// Every intermediate buffer of one vision forward pass.
struct VisionActivations: ~Copyable {
  /// One layer's buffers.
  struct Layer {
    var ln1, mean1, rstd1, q, k, v, attn, ln2, mean2, rstd2, fc1, act: UnsafeMutablePointer<Float>
  }

  let storage: Tensor
  let slots: LayerSlots
  private let offsets: [Int]  // per-layer buffers, slot 0
  private let statesOffset, patchesOffset, embeddingsOffset, preMeanOffset, preRstdOffset: Int
  private let stateSize: Int

  init(config: CLIPVisionConfig, layers: Int, keepAllLayers: Bool) {
    let (C, VI, NP) = (config.hiddenSize, config.intermediateSize, config.patchCount)
    let (T, PP) = (NP + 1, config.numChannels * config.patchSize * config.patchSize)
    var layer = ArenaLayout()
    // ln1 mean1 rstd1 q k v attn ln2 mean2 rstd2 fc1 act
    let sizes = [T * C, T, T, T * C, T * C, T * C, T * C, T * C, T, T, T * VI, T * VI]
    let perLayer = sizes.map { layer.add($0) }
    var layout = ArenaLayout()
    stateSize = T * C
    statesOffset = layout.add((layers + 1) * T * C)  // (layers + 1, T, C)
    patchesOffset = layout.add(NP * PP)  // (NP, PP)
    embeddingsOffset = layout.add(T * C)  // (T, C)
    preMeanOffset = layout.add(T)  // (T)
    preRstdOffset = layout.add(T)  // (T)
    let slotCount = keepAllLayers ? max(layers, 1) : 1
    let base = layout.add(slotCount * layer.count)
    offsets = perLayer.map { base + $0 }
    slots = LayerSlots(count: slotCount, stride: layer.count)
    storage = Tensor(shape: [layout.count])
  }

  /// Hidden state `index`, `(T, C)`.
  func state(_ index: Int) -> UnsafeMutablePointer<Float> {
    storage.data + statesOffset + index * stateSize
  }
  var patches: UnsafeMutablePointer<Float> { storage.data + patchesOffset }
  var embeddings: UnsafeMutablePointer<Float> { storage.data + embeddingsOffset }
  var preMean: UnsafeMutablePointer<Float> { storage.data + preMeanOffset }
  var preRstd: UnsafeMutablePointer<Float> { storage.data + preRstdOffset }

  func layer(_ index: Int) -> Layer {
    let p = storage.data + slots.offset(index)
    return Layer(
      ln1: p + offsets[0],
      mean1: p + offsets[1],
      rstd1: p + offsets[2],
      q: p + offsets[3],
      k: p + offsets[4],
      v: p + offsets[5],
      attn: p + offsets[6],
      ln2: p + offsets[7],
      mean2: p + offsets[8],
      rstd2: p + offsets[9],
      fc1: p + offsets[10],
      act: p + offsets[11]
    )
  }
}
