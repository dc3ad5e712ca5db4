// PNG (libpng 1.6) and JPEG (libjpeg-turbo) decoding behind a small C API. Every symbol is
// prefixed `cic_`. Only the Imaging module imports this target.
//
// Rules: both libraries report errors by longjmp; every setjmp/longjmp pair lives inside one C
// function here, so no jump ever crosses a Swift frame. Callers check limits on the header that
// `cic_probe` reads before anything is decoded; `cic_decode_rgb8` re-checks the header against the
// caller's buffer and limits and also sets libpng's own user limits as a second line of defence.
// Error messages are written NUL-terminated into `err` (`err_cap` bytes, truncated to fit).
// The functions keep no global state and are safe to call from several threads at once.
#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H

#include <stddef.h>
#include <stdint.h>

_Static_assert(sizeof(uint8_t) == 1, "pixel buffers are bytes");
_Static_assert(sizeof(size_t) >= 8, "w*h*4 of a 40 Mpx image must not overflow size_t");

/// Formats `cic_probe` recognizes by signature. Only PNG and JPEG are decoded.
typedef enum {
  CIC_FORMAT_UNKNOWN = 0,
  CIC_FORMAT_PNG = 1,
  CIC_FORMAT_JPEG = 2,
  CIC_FORMAT_GIF = 3,
  CIC_FORMAT_BMP = 4,
  CIC_FORMAT_WEBP = 5,
  CIC_FORMAT_TIFF = 6,
} cic_format;

/// Results. Non-zero results come with a message in `err`.
typedef enum {
  CIC_OK = 0,
  /// No known image signature.
  CIC_NOT_AN_IMAGE = 1,
  /// A known format that is not decoded (GIF, BMP, WebP, TIFF) or an unsupported variant
  /// (CMYK/YCCK JPEG).
  CIC_UNSUPPORTED = 2,
  /// The header declares dimensions over the given limits.
  CIC_TOO_LARGE = 3,
  /// Truncated or malformed data, including a header declaring a zero dimension.
  CIC_CORRUPT = 4,
  /// The caller's buffer does not match the image.
  CIC_BAD_ARGUMENT = 5,
} cic_status;

/// How alpha (and PNG grey/palette transparency) becomes RGB.
typedef enum {
  /// Composite over opaque white with PIL's `Image.alpha_composite` integer arithmetic, as
  /// transformers' `convert_to_rgb` does. RGB PNGs keep their colours (their tRNS is ignored).
  CIC_ALPHA_COMPOSITE_WHITE = 0,
  /// Drop alpha, keeping the stored colours: PIL's `Image.convert("RGB")`.
  CIC_ALPHA_DROP = 1,
} cic_alpha_mode;

/// Reads only the signature and the header (PNG IHDR, JPEG markers up to SOF/SOS via
/// `jpeg_read_header`); allocates nothing proportional to the image. Sets `*format` whenever the
/// signature is recognized, and `*width`, `*height`, `*channels` (stored components: PNG 1–4,
/// JPEG 1/3/4) on success.
cic_status cic_probe(const uint8_t *bytes, size_t len, int32_t *format, uint32_t *width,
                     uint32_t *height, uint32_t *channels, char *err, size_t err_cap);

/// Decodes a PNG or JPEG into `out`, which must hold exactly `width * height * 3` bytes for the
/// dimensions `cic_probe` reported (row-major RGB, 8 bits). Grey becomes R=G=B; palette and 16-bit
/// PNGs are expanded/reduced to 8-bit RGB (16-bit keeps the high byte, as PIL does); interlaced
/// PNGs are supported; CMYK/YCCK JPEGs are rejected as unsupported. `max_width`/`max_height` are
/// passed to libpng's user limits and checked for JPEG.
cic_status cic_decode_rgb8(const uint8_t *bytes, size_t len, cic_alpha_mode alpha_mode,
                           uint32_t max_width, uint32_t max_height, uint8_t *out, size_t out_len,
                           char *err, size_t err_cap);

#endif  // CIMAGECODECS_H
