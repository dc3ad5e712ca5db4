/// How products with stored weights round their activations.
public enum MatmulPrecision: String, Sendable, Hashable, CaseIterable {
  /// fp32 activations and accumulation: the exact product of the stored weights (the default;
  /// matches the transformers fp32 reference to ~1e-5).
  case fp32
  /// Activations rounded to bf16 for products with bf16 weights, fp32 accumulation
  /// (`BF16Products`): about twice as fast where the CPU has AVX512-BF16. Weights stored as
  /// f32 or f16 keep fp32 products.
  case bf16
}
