// The one AMX tile configuration of the CKernels (private to this target): all eight tiles 16
// rows x 64 bytes, palette 1. Loaded once per thread by the first kernel that needs tiles; every
// AMX kernel (bf16 products, split fp32 products, vision attention) relies on this layout.
#ifndef CKERNELS_AMX_TILES_H
#define CKERNELS_AMX_TILES_H

#if defined(__x86_64__)
void ckernels_amx_configure_tiles(void);
#endif

#endif
