// The element type of the training math: Float (what the engine trains in) or Double (the
// references and the fixtures' precision). Only what the math needs beyond BinaryFloatingPoint.
import Glibc

/// A floating-point type with `exp` and `log`, so the PPO and reward-model math is written once.
public protocol TrainingScalar: BinaryFloatingPoint, Sendable {
  static func exp(_ x: Self) -> Self
  static func log(_ x: Self) -> Self
}

extension Float: TrainingScalar {
  public static func exp(_ x: Float) -> Float { Glibc.expf(x) }
  public static func log(_ x: Float) -> Float { Glibc.logf(x) }
}

extension Double: TrainingScalar {
  public static func exp(_ x: Double) -> Double { Glibc.exp(x) }
  public static func log(_ x: Double) -> Double { Glibc.log(x) }
}
