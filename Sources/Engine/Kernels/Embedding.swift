/// Token embedding lookup: row `tokens[t]` of the table, converted to fp32.
public enum Embedding {
  /// Every token must be in `0 ..< V` (the model layer validates ids before they get here).
  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (BT, C)
    tokens: UnsafePointer<Int32>,  // (BT)
    table: WeightView,  // (V, C), f32, f16 or bf16
    BT: Int,
    C: Int
  ) {
    precondition(table.columns == C, "embedding table \(table.shape) does not have \(C) columns")
    for t in 0..<BT {
      let token = Int(tokens[t])
      precondition(token >= 0 && token < table.rows, "token \(token) outside 0..<\(table.rows)")
      table.convertRows(token..<(token + 1), into: out + t * C)
    }
  }

  /// Scatter-add: `dTable[tokens[t]] += dOut[t]` (a parameter gradient, accumulated; a token
  /// that occurs twice gets both rows).
  public static func backward(
    dTable: UnsafeMutablePointer<Float>,  // (V, C)
    dOut: UnsafePointer<Float>,  // (BT, C)
    tokens: UnsafePointer<Int32>,  // (BT)
    BT: Int,
    C: Int
  ) {
    for t in 0..<BT {
      let row = dTable + Int(tokens[t]) * C
      let gradient = dOut + t * C
      for c in 0..<C { row[c] += gradient[c] }
    }
  }
}
