// The raw CPUID and XGETBV instructions, which Swift cannot issue. Engine decodes the
// registers (CPUIdentity.swift) to choose OpenBLAS's kernels at start-up.
#include "ckernels.h"

#if defined(__x86_64__)

#include <cpuid.h>

int ckernels_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]) {
  regs[0] = regs[1] = regs[2] = regs[3] = 0;
  unsigned int highest = __get_cpuid_max(leaf & 0x80000000u, NULL);
  if (highest == 0 || leaf > highest) return 0;
  unsigned int a, b, c, d;
  __cpuid_count(leaf, subleaf, a, b, c, d);
  regs[0] = a;
  regs[1] = b;
  regs[2] = c;
  regs[3] = d;
  return 1;
}

uint64_t ckernels_xcr0(void) {
  uint32_t regs[4];
  // XGETBV faults unless the OS enabled it (CPUID.1:ECX.OSXSAVE, bit 27).
  if (!ckernels_cpuid(1, 0, regs) || !(regs[2] & (1u << 27))) return 0;
  uint32_t low, high;
  __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  return ((uint64_t)high << 32) | low;
}

#else

int ckernels_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]) {
  (void)leaf;
  (void)subleaf;
  regs[0] = regs[1] = regs[2] = regs[3] = 0;
  return 0;
}

uint64_t ckernels_xcr0(void) { return 0; }

#endif
