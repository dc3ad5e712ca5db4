// Small fp32 vector loops written with SIMD8 by hand. The optimiser does not vectorise float
// reductions on its own (that would reorder additions), and a scalar dot product is bound by
// the latency of one add chain; four independent SIMD8 accumulators are not.

/// `sum(a[i] * b[i])` for `i < count`.
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
  let rawA = UnsafeRawPointer(a)
  let rawB = UnsafeRawPointer(b)
  var sum0 = SIMD8<Float>()
  var sum1 = SIMD8<Float>()
  var i = 0
  while i &+ 16 <= count {
    sum0 = sum0.addingProduct(F32Elements.load8(rawA, i), F32Elements.load8(rawB, i))
    sum1 = sum1.addingProduct(F32Elements.load8(rawA, i &+ 8), F32Elements.load8(rawB, i &+ 8))
    i &+= 16
  }
  if i &+ 8 <= count {
    sum0 = sum0.addingProduct(F32Elements.load8(rawA, i), F32Elements.load8(rawB, i))
    i &+= 8
  }
  var sum = (sum0 + sum1).sum()
  while i < count {
    sum += a[i] * b[i]
    i &+= 1
  }
  return sum
}

/// `a · b0`, `a · b1`, `a · b2`, `a · b3` over `count` elements: four independent chains that
/// share the loads of `a` (decode attention: one query against four key rows).
@inline(__always)
func dot4(
  _ a: UnsafePointer<Float>,
  _ b0: UnsafePointer<Float>,
  _ b1: UnsafePointer<Float>,
  _ b2: UnsafePointer<Float>,
  _ b3: UnsafePointer<Float>,
  _ count: Int
) -> SIMD4<Float> {
  let (rawA, r0, r1, r2, r3) = (
    UnsafeRawPointer(a), UnsafeRawPointer(b0), UnsafeRawPointer(b1), UnsafeRawPointer(b2),
    UnsafeRawPointer(b3)
  )
  var (s0, s1, s2, s3) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
  var i = 0
  while i &+ 8 <= count {
    let x = F32Elements.load8(rawA, i)
    s0 = s0.addingProduct(x, F32Elements.load8(r0, i))
    s1 = s1.addingProduct(x, F32Elements.load8(r1, i))
    s2 = s2.addingProduct(x, F32Elements.load8(r2, i))
    s3 = s3.addingProduct(x, F32Elements.load8(r3, i))
    i &+= 8
  }
  var sums = SIMD4<Float>(s0.sum(), s1.sum(), s2.sum(), s3.sum())
  while i < count {
    sums += a[i] * SIMD4<Float>(b0[i], b1[i], b2[i], b3[i])
    i &+= 1
  }
  return sums
}

/// `y[i] += alpha * x[i]` for `i < count`.
@inline(__always)
func axpy(_ y: UnsafeMutablePointer<Float>, _ alpha: Float, _ x: UnsafePointer<Float>, _ count: Int)
{
  let rawX = UnsafeRawPointer(x)
  let rawY = UnsafeMutableRawPointer(y)
  var i = 0
  while i &+ 8 <= count {
    let updated = F32Elements.load8(rawY, i) + alpha * F32Elements.load8(rawX, i)
    rawY.storeBytes(of: updated, toByteOffset: i &* 4, as: SIMD8<Float>.self)
    i &+= 8
  }
  while i < count {
    y[i] += alpha * x[i]
    i &+= 1
  }
}

/// `e^x` for eight lanes at once (fast path of `expf`; relative error < 2e-7 on [-87, 88]).
/// Cephes' `expf`: `x = n·ln2 + r` with `|r| ≤ ln2/2`, a degree-6 polynomial for `e^r`, and
/// `2^n` built in the exponent bits. `n` is rounded by adding 1.5·2^23 (the integer lands in
/// the low mantissa bits), because Swift's SIMD float→int conversions are scalarised. Inputs
/// below -87.3 give ~1e-38 rather than 0 (softmax inputs here are ≤ 0 and never -inf).
@inline(__always)
func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
  // Clamped with masks: `pointwiseMin` / `pointwiseMax` were emitted as out-of-line calls.
  let low = SIMD8<Float>(repeating: -87.3)
  let high = SIMD8<Float>(repeating: 88.3)
  let x = x.replacing(with: low, where: x .< low).replacing(with: high, where: x .> high)
  let shifter = SIMD8<Float>(repeating: 12_582_912)  // 1.5 · 2^23
  let t = shifter.addingProduct(x, SIMD8(repeating: 1.442_695_04))  // x·log2(e), rounded
  let n = t - shifter
  var r = x.addingProduct(n, SIMD8(repeating: -0.693_359_375))  // ln 2, high part
  r = r.addingProduct(n, SIMD8(repeating: 2.121_944_4e-4))  // ln 2, low part
  var p = SIMD8<Float>(repeating: 1.987_569_1e-4)
  p = SIMD8(repeating: 1.398_199_9e-3).addingProduct(p, r)
  p = SIMD8(repeating: 8.333_452e-3).addingProduct(p, r)
  p = SIMD8(repeating: 4.166_579_6e-2).addingProduct(p, r)
  p = SIMD8(repeating: 1.666_666_5e-1).addingProduct(p, r)
  p = SIMD8(repeating: 5e-1).addingProduct(p, r)
  let r2 = r * r
  let er = (r + 1).addingProduct(p, r2)
  let bits = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
  return er * unsafeBitCast(bits, to: SIMD8<Float>.self)
}
