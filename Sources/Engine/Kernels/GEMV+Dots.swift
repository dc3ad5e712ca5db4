// The inner loops of `GEMV`: dot products of decoded weight rows with fp32 activation rows,
// register-blocked by shape (rows of weights × rows of activations per pass).

extension GEMVProduct {
  /// One weight row against one activation row: four independent accumulators (32 elements
  /// per iteration) hide the add latency; the loop is bound by the weight stream.
  @inline(__always)
  func dot1<Element: ElementDecoding>(
    _: Element.Type,
    _ row: UnsafeRawPointer,  // (K) elements
    _ x: UnsafePointer<Float>  // (K)
  ) -> Float {
    let xs = UnsafeRawPointer(x)
    var sum0 = SIMD8<Float>()
    var sum1 = SIMD8<Float>()
    var sum2 = SIMD8<Float>()
    var sum3 = SIMD8<Float>()
    var k = 0
    while k &+ 32 <= K {
      sum0 = sum0.addingProduct(Element.load8(row, k), F32Elements.load8(xs, k))
      sum1 = sum1.addingProduct(Element.load8(row, k &+ 8), F32Elements.load8(xs, k &+ 8))
      sum2 = sum2.addingProduct(Element.load8(row, k &+ 16), F32Elements.load8(xs, k &+ 16))
      sum3 = sum3.addingProduct(Element.load8(row, k &+ 24), F32Elements.load8(xs, k &+ 24))
      k &+= 32
    }
    while k &+ 8 <= K {
      sum0 = sum0.addingProduct(Element.load8(row, k), F32Elements.load8(xs, k))
      k &+= 8
    }
    var sum = ((sum0 + sum1) + (sum2 + sum3)).sum()
    while k < K {
      sum += Element.load1(row, k) * x[k]
      k &+= 1
    }
    return sum
  }

  /// Two weight rows against four consecutive activation rows (`K` apart): each decoded chunk
  /// serves four rows, each activation chunk two.
  @inline(__always)
  func pair4<Element: ElementDecoding>(
    _: Element.Type,
    _ w0: UnsafeRawPointer,  // (K) elements
    _ w1: UnsafeRawPointer,  // (K) elements
    _ x: UnsafePointer<Float>  // (4, K)
  ) -> (SIMD4<Float>, SIMD4<Float>) {
    let xs = UnsafeRawPointer(x)
    let (r1, r2, r3) = (K &* 4, K &* 8, K &* 12)  // byte offsets of activation rows 1-3
    var a0 = SIMD8<Float>()
    var a1 = SIMD8<Float>()
    var a2 = SIMD8<Float>()
    var a3 = SIMD8<Float>()
    var b0 = SIMD8<Float>()
    var b1 = SIMD8<Float>()
    var b2 = SIMD8<Float>()
    var b3 = SIMD8<Float>()
    var k = 0
    while k &+ 8 <= K {
      let u = Element.load8(w0, k)
      let v = Element.load8(w1, k)
      let x0 = F32Elements.load8(xs, k)
      a0 = a0.addingProduct(u, x0)
      b0 = b0.addingProduct(v, x0)
      let x1 = F32Elements.load8(xs + r1, k)
      a1 = a1.addingProduct(u, x1)
      b1 = b1.addingProduct(v, x1)
      let x2 = F32Elements.load8(xs + r2, k)
      a2 = a2.addingProduct(u, x2)
      b2 = b2.addingProduct(v, x2)
      let x3 = F32Elements.load8(xs + r3, k)
      a3 = a3.addingProduct(u, x3)
      b3 = b3.addingProduct(v, x3)
      k &+= 8
    }
    var a = SIMD4<Float>(a0.sum(), a1.sum(), a2.sum(), a3.sum())
    var b = SIMD4<Float>(b0.sum(), b1.sum(), b2.sum(), b3.sum())
    while k < K {
      let xk = SIMD4<Float>(x[k], x[K &+ k], x[2 &* K &+ k], x[3 &* K &+ k])
      a += Element.load1(w0, k) * xk
      b += Element.load1(w1, k) * xk
      k &+= 1
    }
    return (a, b)
  }

  /// One weight row against four activation rows: each chunk of the weight row is decoded once
  /// and used four times.
  @inline(__always)
  func dot4<Element: ElementDecoding>(
    _: Element.Type,
    _ row: UnsafeRawPointer,  // (K) elements
    _ x0: UnsafePointer<Float>,  // (K)
    _ x1: UnsafePointer<Float>,  // (K)
    _ x2: UnsafePointer<Float>,  // (K)
    _ x3: UnsafePointer<Float>  // (K)
  ) -> SIMD4<Float> {
    let (r0, r1, r2, r3) = (
      UnsafeRawPointer(x0), UnsafeRawPointer(x1), UnsafeRawPointer(x2), UnsafeRawPointer(x3)
    )
    var sum0 = SIMD8<Float>()
    var sum1 = SIMD8<Float>()
    var sum2 = SIMD8<Float>()
    var sum3 = SIMD8<Float>()
    var k = 0
    while k &+ 8 <= K {
      let w = Element.load8(row, k)
      sum0 = sum0.addingProduct(w, F32Elements.load8(r0, k))
      sum1 = sum1.addingProduct(w, F32Elements.load8(r1, k))
      sum2 = sum2.addingProduct(w, F32Elements.load8(r2, k))
      sum3 = sum3.addingProduct(w, F32Elements.load8(r3, k))
      k &+= 8
    }
    var sums = SIMD4<Float>(sum0.sum(), sum1.sum(), sum2.sum(), sum3.sum())
    while k < K {
      let w = Element.load1(row, k)
      sums += w * SIMD4<Float>(x0[k], x1[k], x2[k], x3[k])
      k &+= 1
    }
    return sums
  }
}
