// The LLaMA decoder's activations for one forward of `T` new tokens: one `Tensor`, every buffer
// an offset (llm.c's ActivationTensors). With `keepAllLayers` every layer's buffers and every
// residual-stream state stay addressable for a backward pass; without it layers share one slot
// and the stream alternates between two states, so inference memory does not grow with depth.
import Checkpoints
import Engine

/// Every intermediate buffer of one decoder forward pass.
struct DecoderActivations: ~Copyable {
  /// One layer's buffers. `C` hidden, `NH`/`NKV` heads, `HS` head size, `I` MLP size.
  struct Layer {
    var ln1: UnsafeMutablePointer<Float>  // (T, C)
    var rstd1: UnsafeMutablePointer<Float>  // (T)
    var q: UnsafeMutablePointer<Float>  // (T, NH, HS) after RoPE
    var k: UnsafeMutablePointer<Float>  // (T, NKV, HS) after RoPE
    var v: UnsafeMutablePointer<Float>  // (T, NKV, HS)
    var attn: UnsafeMutablePointer<Float>  // (T, NH, HS)
    var ln2: UnsafeMutablePointer<Float>  // (T, C)
    var rstd2: UnsafeMutablePointer<Float>  // (T)
    var gate: UnsafeMutablePointer<Float>  // (T, I)
    var up: UnsafeMutablePointer<Float>  // (T, I)
    var swiglu: UnsafeMutablePointer<Float>  // (T, I)
  }

  let T: Int
  let storage: Tensor
  let slots: LayerSlots
  private let offsets: [Int]
  private let streamOffset, stateSize, stateSlots, lnfOffset, rstdfOffset: Int

  init(config: LlamaTextConfig, T: Int, keepAllLayers: Bool) {
    let (C, I, HS) = (config.hiddenSize, config.intermediateSize, config.headDim)
    let (q, kv) = (config.numAttentionHeads * HS, config.numKeyValueHeads * HS)
    let layers = config.numHiddenLayers
    var layer = ArenaLayout()
    let sizes = [T * C, T, T * q, T * kv, T * kv, T * q, T * C, T, T * I, T * I, T * I]
    let perLayer = sizes.map { layer.add($0) }
    var layout = ArenaLayout()
    self.T = T
    stateSize = T * C
    stateSlots = keepAllLayers ? layers + 1 : 2
    streamOffset = layout.add(stateSlots * T * C)  // (layers + 1 or 2, T, C)
    lnfOffset = layout.add(T * C)  // (T, C)
    rstdfOffset = layout.add(T)  // (T)
    let slotCount = keepAllLayers ? layers : 1
    let base = layout.add(slotCount * layer.count)
    offsets = perLayer.map { base + $0 }
    slots = LayerSlots(count: slotCount, stride: layer.count)
    storage = Tensor(shape: [layout.count])
  }

  /// The residual stream entering layer `index` (`index` = layers: leaving the last), `(T, C)`.
  func stream(_ index: Int) -> UnsafeMutablePointer<Float> {
    storage.data + streamOffset + (index % stateSlots) * stateSize
  }
  /// The final norm's output, `(T, C)`: what the LM and reward heads read.
  var lnf: UnsafeMutablePointer<Float> { storage.data + lnfOffset }
  var rstdf: UnsafeMutablePointer<Float> { storage.data + rstdfOffset }

  func layer(_ index: Int) -> Layer {
    let p = storage.data + slots.offset(index)
    return Layer(
      ln1: p + offsets[0],
      rstd1: p + offsets[1],
      q: p + offsets[2],
      k: p + offsets[3],
      v: p + offsets[4],
      attn: p + offsets[5],
      ln2: p + offsets[6],
      rstd2: p + offsets[7],
      gate: p + offsets[8],
      up: p + offsets[9],
      swiglu: p + offsets[10]
    )
  }
}
