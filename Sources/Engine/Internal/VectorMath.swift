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
    sum0 += F32Elements.load8(rawA, i) * F32Elements.load8(rawB, i)
    sum1 += F32Elements.load8(rawA, i &+ 8) * F32Elements.load8(rawB, i &+ 8)
    i &+= 16
  }
  if i &+ 8 <= count {
    sum0 += F32Elements.load8(rawA, i) * F32Elements.load8(rawB, i)
    i &+= 8
  }
  var sum = (sum0 + sum1).sum()
  while i < count {
    sum += a[i] * b[i]
    i &+= 1
  }
  return sum
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
