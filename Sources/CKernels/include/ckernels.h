// Hand-written x86 kernels the Swift compiler cannot express: AVX-512 code in a binary that
// is otherwise built for x86-64-v3 (AVX2), chosen at run time. Only Engine imports this module.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the CPU (and OS) support AVX-512F/BW/DQ/VL and `RLHFD_NO_AVX512=1` is not set; 0
/// otherwise, and always 0 off x86-64. Decided on the first call and cached.
int ckernels_has_avx512(void);

/// For rows n in [n0, n1): out[m*N + n] (+)= sum_k x[m*K + k] * w[n*K + k] (+ bias[n]), for
/// all m < M. `accumulate` adds to `out` instead of overwriting it; `bias` may be NULL. fp32
/// accumulation (bf16 weights are widened exactly), so only the summation order differs from
/// the Swift path. Call only when `ckernels_has_avx512()` returned 1.
void ckernels_gemv_bf16_avx512(
  float *out,  // (M, N)
  const float *x,  // (M, K)
  const uint16_t *w,  // (N, K) bf16 bit patterns
  const float *bias,  // (N) or NULL
  ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, ptrdiff_t n0, ptrdiff_t n1, int accumulate);

/// As `ckernels_gemv_bf16_avx512`, for fp32 weights.
void ckernels_gemv_f32_avx512(
  float *out,  // (M, N)
  const float *x,  // (M, K)
  const float *w,  // (N, K)
  const float *bias,  // (N) or NULL
  ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, ptrdiff_t n0, ptrdiff_t n1, int accumulate);

#ifdef __cplusplus
}
#endif

#endif
