import Engine
import Testing

@Suite struct EmbeddingTests {
  @Test(arguments: [WeightView.DType.f32, .bf16, .f16])
  func looksUpRowsOfAnyDType(dtype: WeightView.DType) throws {
    let (V, C) = (5, 3)
    let table: [Float] = (0..<(V * C)).map { Float($0) * 0.5 }  // exact in every dtype
    let tokens: [Int32] = [4, 0, 4, 2]
    var out = [Float](repeating: .nan, count: tokens.count * C)
    try withWeights(table, dtype: dtype, shape: [V, C]) { view in
      Embedding.forward(out: &out, tokens: tokens, table: view, BT: tokens.count, C: C)
    }
    let expected = tokens.flatMap { token in table[(Int(token) * C)..<((Int(token) + 1) * C)] }
    #expect(out == expected)
  }

  @Test func backwardScatterAddsRepeatedTokens() {
    let (V, C) = (4, 2)
    let tokens: [Int32] = [1, 3, 1]
    let dOut: [Float] = [1, 2, 3, 4, 5, 6]
    var dTable: [Float] = [Float](repeating: 1, count: V * C)  // accumulates onto this
    Embedding.backward(dTable: &dTable, dOut: dOut, tokens: tokens, BT: tokens.count, C: C)
    #expect(dTable == [1, 1, 7, 9, 1, 1, 4, 5])
  }

  @Test func gradientMatchesFiniteDifferences() throws {
    let (V, C) = (4, 3)
    var table = randomFloats(V * C, seed: 1)
    let tokens: [Int32] = [2, 0, 2]
    let upstream = randomFloats(tokens.count * C, seed: 2)
    var dTable = [Float](repeating: 0, count: V * C)
    Embedding.backward(dTable: &dTable, dOut: upstream, tokens: tokens, BT: tokens.count, C: C)
    let numerical = numericalGradient(of: &table) { table in
      var out = [Float](repeating: 0, count: tokens.count * C)
      try? withWeights(table, dtype: .f32, shape: [V, C]) { view in
        Embedding.forward(out: &out, tokens: tokens, table: view, BT: tokens.count, C: C)
      }
      return weightedSum(out, upstream)
    }
    expectGradient(dTable, numerical)
  }
}
