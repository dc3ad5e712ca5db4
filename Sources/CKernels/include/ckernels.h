// Hand-written x86 kernels the Swift compiler cannot express: AVX-512 code in a binary that
// is otherwise built for x86-64-v3 (AVX2), chosen at run time; and the CPUID / XGETBV reads
// behind the choice of OpenBLAS's kernel set. Only Engine imports this module.
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

/// 1 when `ckernels_has_avx512()` and the CPU has AVX512-BF16 (`vdpbf16ps`); 0 otherwise.
int ckernels_has_avx512_bf16(void);

/// Elements of the panel layout of an (N, K) bf16 weight: ceil(N / 32) panels of
/// ceil(K / 2) pairs x 32 columns x 2 (zero-padded).
ptrdiff_t ckernels_bf16_panel_elements(ptrdiff_t N, ptrdiff_t K);

/// Writes panels [p0, p1) of `w` in the panel layout (bf16_products.c); any CPU.
void ckernels_bf16_pack_panels(
  uint16_t *panels, const uint16_t *w,  // (N, K) bf16 bit patterns
  ptrdiff_t N, ptrdiff_t K, ptrdiff_t p0, ptrdiff_t p1);

/// out[i] = bf16(x[i]), rounding to nearest even (denormals flush to zero). Needs
/// `ckernels_has_avx512_bf16()`.
void ckernels_bf16_round(uint16_t *out, const float *x, ptrdiff_t count);

/// For the output columns of panels [p0, p1): out[m*N + n] (+)= sum_k x[m*K + k] * W[n][k]
/// (+ bias[n]), products of bf16 values summed in fp32 over k pairs in order. `x` is bf16,
/// `panels` the packed weight. Needs `ckernels_has_avx512_bf16()`.
void ckernels_bf16_panels_product(
  float *out,  // (M, N)
  const uint16_t *x,  // (M, K) bf16
  const uint16_t *panels,  // ckernels_bf16_panel_elements(N, K)
  const float *bias,  // (N) or NULL
  ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, ptrdiff_t p0, ptrdiff_t p1, int accumulate);

/// CPUID leaf `leaf`, sub-leaf `subleaf`: regs = EAX, EBX, ECX, EDX. Returns 0 (and zeros)
/// when the CPU has no such leaf, and always off x86-64 (cpu_identity.c).
int ckernels_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]);

/// XCR0 (the register states the OS saves: bit 2 ymm, bits 5-7 zmm, 17-18 AMX tiles), or 0
/// when the OS has not enabled XGETBV, and off x86-64.
uint64_t ckernels_xcr0(void);

/// 1 when the CPU has AMX-TILE and AMX-BF16, `ckernels_has_avx512_bf16()` is 1, and Linux
/// granted the tile state (arch_prctl ARCH_REQ_XCOMP_PERM, asked on the first call); 0
/// otherwise. Ignores `RLHFD_NO_AMX` (tests use it to reach the kernel anyway).
int ckernels_amx_available(void);

/// `ckernels_amx_available()` unless `RLHFD_NO_AMX=1`. Decided on the first call and cached.
int ckernels_has_amx(void);

/// Row stride (elements) of the AMX kernel's bf16 activations: K rounded up to 32.
ptrdiff_t ckernels_bf16_amx_row_stride(ptrdiff_t K);

/// Rows of the AMX kernel's bf16 activations: M rounded up to 16.
ptrdiff_t ckernels_bf16_amx_rows(ptrdiff_t M);

/// Rows [m0, m1) of the AMX kernel's activations: row m < M is bf16(x[m]) (as
/// `ckernels_bf16_round`) followed by zeros up to the row stride; rows m >= M are zeros.
/// Needs `ckernels_has_avx512_bf16()`.
void ckernels_bf16_round_padded(
  uint16_t *out,  // (ckernels_bf16_amx_rows(M), ckernels_bf16_amx_row_stride(K))
  const float *x,  // (M, K)
  ptrdiff_t M, ptrdiff_t K, ptrdiff_t m0, ptrdiff_t m1);

/// As `ckernels_bf16_panels_product`, with AMX tiles (TDPBF16PS) over the same panels; `x` is
/// padded by `ckernels_bf16_round_padded`. Sums in another rounding than the AVX512-BF16
/// kernel, the same for every M. Needs `ckernels_has_amx()` (or `ckernels_amx_available()`).
void ckernels_bf16_panels_product_amx(
  float *out,  // (M, N)
  const uint16_t *x,  // (ckernels_bf16_amx_rows(M), ckernels_bf16_amx_row_stride(K)) bf16
  const uint16_t *panels,  // ckernels_bf16_panel_elements(N, K)
  const float *bias,  // (N) or NULL
  ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, ptrdiff_t p0, ptrdiff_t p1, int accumulate);

/// Rows of the split activations of M source rows: ceil(M / 5) tiles of 16.
ptrdiff_t ckernels_bf16_split3_rows(ptrdiff_t M);

/// Tiles [t0, t1) of the split activations of `x` (bf16_split.c) for
/// `ckernels_bf16_panels_product_amx_split`: source row s = 5 t + i (i < 5) of tile t gets
/// hi = bf16(x[s]) in tile row i, mid = bf16(x[s] - hi) in row 5 + i, lo = bf16(x[s] - hi - mid)
/// in row 10 + i, so hi + mid + lo = x[s] to 2^-26 relative; row 15, rows of source rows
/// >= M and the row stride's padding are zeros. Needs `ckernels_has_avx512_bf16()`.
void ckernels_bf16_split3_padded(
  uint16_t *out,  // (ckernels_bf16_split3_rows(M), ckernels_bf16_amx_row_stride(K))
  const float *x,  // (M, K)
  ptrdiff_t M, ptrdiff_t K, ptrdiff_t t0, ptrdiff_t t1);

/// As `ckernels_bf16_panels_product_amx`, for fp32 activations split by
/// `ckernels_bf16_split3_padded`: each output is the fp32 sum of the products of all three
/// parts (the exact fp32 product of the stored weights up to summation order). Needs
/// `ckernels_has_amx()` (or `ckernels_amx_available()`).
void ckernels_bf16_panels_product_amx_split(
  float *out,  // (M, N)
  const uint16_t *x,  // (ckernels_bf16_split3_rows(M), ckernels_bf16_amx_row_stride(K)) bf16
  const uint16_t *panels,  // ckernels_bf16_panel_elements(N, K)
  const float *bias,  // (N) or NULL
  ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, ptrdiff_t p0, ptrdiff_t p1, int accumulate);

/// Unmasked attention of heads [h0, h1) (attention_bf16_amx.c): for each query row t and head
/// h, out[t, h] = sum_s bf16(e_s) bf16(v[s, h]) / sum_s e_s with
/// e_s = exp(scale (bf16(q[t, h]) . bf16(k[s, h])) - max), scale = 1 / sqrt(HS); products on
/// AMX tiles with fp32 sums, softmax in fp32. q, k, v, out are (T, NH, HS). Needs
/// `ckernels_has_amx()` (or `ckernels_amx_available()`).
void ckernels_attention_bf16_amx(
  float *out,  // (T, NH, HS)
  const float *q,  // (T, NH, HS)
  const float *k,  // (T, NH, HS)
  const float *v,  // (T, NH, HS)
  ptrdiff_t T, ptrdiff_t NH, ptrdiff_t HS, ptrdiff_t h0, ptrdiff_t h1);

#ifdef __cplusplus
}
#endif

#endif
