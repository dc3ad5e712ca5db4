// Where a `DecoderAdapter`'s values live: one 64-byte-aligned allocation holding, per layer and
// per input set (`DecoderLayerLoRA.inputSets`), the set's A matrices one after another (so they
// form one stacked `(S, K)` matrix, S = r · adapted linears in the set), then their B matrices;
// after all plain values, the bf16 panels under `precision: bf16`: the stacked A packed once
// (each part's panels are a slice of them when r is a multiple of the 32-row panels, else the
// part gets its own), and each B's.
import Engine

extension DecoderAdapter {
  struct Layout {
    let storage: UnsafeMutableRawPointer
    let byteCount: Int
    let layers: [DecoderLayerLoRA]

    /// `pairs` were validated against `base` (shapes, rank `r`, each (layer, linear) once).
    init(
      pairs: [Pair],
      base: LlavaWeights,
      rank r: Int,
      scale: Float,
      dtype: WeightView.DType,
      packs: Bool
    ) {
      let layerCount = base.decoder.layers.count
      var byKey: [Int: Pair] = [:]
      for pair in pairs { byKey[pair.layer * 8 + pair.linear.rawValue] = pair }
      func members(_ l: Int, _ set: [DecoderLinear]) -> [DecoderLinear] {
        set.filter { byKey[l * 8 + $0.rawValue] != nil }
      }
      func aligned(_ bytes: Int) -> Int { (bytes + 63) / 64 * 64 }
      let slicesPanels = r % 32 == 0
      var values = 0
      var panelBytes = 0
      for pair in pairs { values += pair.a.count + pair.b.count }
      for l in 0..<layerCount where packs {
        for set in DecoderLayerLoRA.inputSets {
          let adapted = members(l, set)
          guard let first = adapted.first else { continue }
          let K = base.decoder.layers[l][first].inFeatures
          panelBytes += aligned(BF16Products.panelByteCount(rows: adapted.count * r, columns: K))
          for linear in adapted {
            let N = base.decoder.layers[l][linear].outFeatures
            if !slicesPanels {
              panelBytes += aligned(BF16Products.panelByteCount(rows: r, columns: K))
            }
            panelBytes += aligned(BF16Products.panelByteCount(rows: N, columns: r))
          }
        }
      }
      let dataBytes = aligned(values * dtype.byteSize)
      byteCount = dataBytes + panelBytes
      let storage = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
      self.storage = storage
      var (offset, panelOffset) = (0, dataBytes)
      func write(_ values: [Float]) {
        let start = storage + offset
        for (i, value) in values.enumerated() {
          if dtype == .bf16 {
            let bits = HalfPrecision.bf16(from: value)
            start.storeBytes(of: bits, toByteOffset: i * 2, as: UInt16.self)
          } else {
            start.storeBytes(of: value, toByteOffset: i * 4, as: Float.self)
          }
        }
        offset += values.count * dtype.byteSize
      }
      func view(at start: Int, shape: [Int]) -> WeightView {
        let bytes = UnsafeRawBufferPointer(
          start: storage + start,
          count: shape[0] * shape[1] * dtype.byteSize
        )
        do { return try WeightView(bytes: bytes, dtype: dtype, shape: shape) } catch {
          preconditionFailure("LoRA buffer: \(error)")
        }
      }
      func pack(_ plain: WeightView) -> WeightView {
        guard packs else { return plain }
        let panels = storage + panelOffset
        panelOffset += aligned(
          BF16Products.panelByteCount(rows: plain.rows, columns: plain.columns)
        )
        return BF16Products.pack(plain, into: panels)
      }
      var layers = Array(repeating: DecoderLayerLoRA(), count: layerCount)
      for l in 0..<layerCount {
        for (s, set) in DecoderLayerLoRA.inputSets.enumerated() {
          let adapted = members(l, set)
          guard let first = adapted.first else { continue }
          let K = base.decoder.layers[l][first].inFeatures
          let aStart = offset
          for linear in adapted { write(byKey[l * 8 + linear.rawValue]!.a) }
          let stacked = pack(view(at: aStart, shape: [adapted.count * r, K]))  // (S, K)
          var parts: [LoRAWeights] = []
          for (i, linear) in adapted.enumerated() {
            let N = base.decoder.layers[l][linear].outFeatures
            var a = view(at: aStart + i * r * K * dtype.byteSize, shape: [r, K])
            if let panels = stacked.bf16Panels, slicesPanels {
              a = a.withBF16Panels(panels + i * BF16Products.panelByteCount(rows: r, columns: K))
            } else {
              a = pack(a)
            }
            let bStart = offset
            write(byKey[l * 8 + linear.rawValue]!.b)
            let b = pack(view(at: bStart, shape: [N, r]))
            parts.append(LoRAWeights(a: a, b: b, scale: scale))
            layers[l][linear] = parts[i]
          }
          layers[l].stacks[s] = LoRAStack(
            a: stacked,
            parts: parts,
            targets: adapted.map { set.firstIndex(of: $0)! }
          )
        }
      }
      self.layers = layers
    }
  }
}
