import Engine
import Testing

@Suite struct ResidualTests {
  @Test func addsInPlace() {
    var stream: [Float] = [1, 2, 3]
    let branch: [Float] = [10, 20, 30]
    stream.withUnsafeMutableBufferPointer { s in
      Residual.forward(out: s.baseAddress!, a: s.baseAddress!, b: branch, count: 3)
    }
    #expect(stream == [11, 22, 33])
  }

  @Test func backwardAccumulatesIntoBothBranches() {
    var dA: [Float] = [1, 1]
    var dB: [Float] = [0, 2]
    Residual.backward(dA: &dA, dB: &dB, dOut: [3, 4], count: 2)
    #expect(dA == [4, 5])
    #expect(dB == [3, 6])
  }
}
