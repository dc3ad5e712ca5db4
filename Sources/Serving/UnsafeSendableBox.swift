// A box for sharing a value whose concurrent use is safe by construction (an `Atomic`).

/// A `Sendable` wrapper for a value whose sharing is safe by construction (an `Atomic` here).
final class UnsafeSendableBox<Value: ~Copyable>: @unchecked Sendable {
  let value: Value
  init(_ value: consuming Value) { self.value = value }
}
