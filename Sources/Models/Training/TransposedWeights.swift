// Transposed copies of the decoder's frozen linears for the backward (`DecoderTraining`'s
// `transposedWeights`): where the forward runs its base products on bf16 panels — split (fp32
// precision over bf16 weights on an AMX host) or not (`precision: bf16`) — `dIn = dOut · W` runs
// on panels of Wᵀ of the same kind at the same rate (`BF16Products.packTransposed`) instead of
// converting W to fp32 blocks for sgemm. Costs twice the bf16 bytes of the seven linears of
// every layer (plain Wᵀ + its panels).
import Engine

/// Wᵀ `(K, N)` with split panels for each layer's linears, where the base weight has them.
final class TransposedWeights: @unchecked Sendable {
  /// `views[l][linear.rawValue]`: Wᵀ of layer l's linear, or nil (then `backwardInput`).
  let views: [[WeightView?]]
  /// Bytes held.
  let byteCount: Int
  private let buffers: [UnsafeMutableRawPointer]

  /// Packs every bf16 linear of `parameters` whose products run on panels; nil when none does.
  init?(parameters: DecoderParameters) {
    var buffers: [UnsafeMutableRawPointer] = []
    var byteCount = 0
    var views: [[WeightView?]] = []
    for layer in parameters.layers {
      var row = [WeightView?](repeating: nil, count: DecoderLinear.allCases.count)
      for linear in DecoderLinear.allCases {
        let weight = layer[linear].weight
        guard weight.dtype == .bf16, weight.bf16Panels != nil else { continue }
        let (plain, panels) = BF16Products.transposedByteCounts(
          rows: weight.rows,
          columns: weight.columns
        )
        let a = UnsafeMutableRawPointer.allocate(byteCount: max(plain, 1), alignment: 64)
        let b = UnsafeMutableRawPointer.allocate(byteCount: max(panels, 1), alignment: 64)
        buffers += [a, b]
        byteCount += plain + panels
        row[linear.rawValue] = BF16Products.packTransposed(weight, plain: a, panels: b)
      }
      views.append(row)
    }
    guard !buffers.isEmpty else { return nil }
    self.views = views
    self.byteCount = byteCount
    self.buffers = buffers
  }

  deinit { for buffer in buffers { buffer.deallocate() } }

  func view(_ l: Int, _ linear: DecoderLinear) -> WeightView? { views[l][linear.rawValue] }
}
