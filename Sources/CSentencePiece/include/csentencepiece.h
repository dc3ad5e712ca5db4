// A pure C API over Debian's libsentencepiece (0.1.97). Every symbol is prefixed `csp_`. Only the
// Tokenizer module imports this target.
//
// Rules: no C++ exception crosses this boundary (the shim catches everything and reports it as an
// error); ids are range-checked here because the library indexes its piece table unchecked; every
// buffer returned through an out-parameter is owned by the caller and released with the matching
// `csp_free_*` function. Errors are written NUL-terminated into a caller buffer `err` of `err_cap`
// bytes (truncated to fit).
//
// Threading: a loaded processor is immutable. Its encode/decode/lookup functions are `const` in
// the library and keep no mutable state, so a processor may be used from several threads at once
// (the library's own Python binding encodes batches on a thread pool sharing one processor).
// Loading and freeing must not race with use.
#ifndef CSENTENCEPIECE_H
#define CSENTENCEPIECE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
static_assert(sizeof(int32_t) == sizeof(int), "SentencePiece ids are C int");
#else
_Static_assert(sizeof(int32_t) == sizeof(int), "SentencePiece ids are C int");
#endif

/// An opaque, loaded SentencePiece model.
typedef struct csp_processor csp_processor;

/// Load options (bit flags).
enum {
  /// Force `normalizer_spec.add_dummy_prefix = false` (what transformers' non-legacy
  /// LlamaTokenizer does to its sp_model).
  CSP_LOAD_NO_DUMMY_PREFIX = 1,
};

/// Loads a serialized ModelProto from a file. Returns NULL and fills `err` on failure.
csp_processor *csp_load_file(const char *path, uint32_t options, char *err, size_t err_cap);

/// Loads a serialized ModelProto from memory (the bytes are copied).
csp_processor *csp_load_bytes(const uint8_t *bytes, size_t len, uint32_t options, char *err,
                              size_t err_cap);

/// Frees a processor (NULL is ignored).
void csp_free(csp_processor *processor);

/// Number of pieces in the model (ids are 0 ..< size).
int32_t csp_vocab_size(const csp_processor *processor);
/// Reserved ids; -1 when the model defines none.
int32_t csp_bos_id(const csp_processor *processor);
int32_t csp_eos_id(const csp_processor *processor);
int32_t csp_unk_id(const csp_processor *processor);
int32_t csp_pad_id(const csp_processor *processor);

/// Normalizer settings that shape decoding (bit flags returned by csp_decode_flags).
enum {
  /// normalizer_spec.add_dummy_prefix (decode drops the first piece's leading U+2581).
  CSP_ADD_DUMMY_PREFIX = 1,
  /// normalizer_spec.remove_extra_whitespaces (decode drops leading U+2581 until text appears).
  CSP_REMOVE_EXTRA_WHITESPACES = 2,
  /// The model has a denormalizer, which rewrites decoded text as a whole.
  CSP_HAS_DENORMALIZER = 4,
};
uint32_t csp_decode_flags(const csp_processor *processor);

/// Piece classification; 0 for ids out of range.
int csp_is_byte(const csp_processor *processor, int32_t id);
int csp_is_control(const csp_processor *processor, int32_t id);
int csp_is_unknown(const csp_processor *processor, int32_t id);
int csp_is_unused(const csp_processor *processor, int32_t id);

/// The id of a piece (UTF-8, `len` bytes); the unknown id when the piece is not in the vocab.
int32_t csp_piece_to_id(const csp_processor *processor, const char *piece, size_t len);

/// The piece of `id` as a caller-owned buffer (not NUL-terminated, `*len_out` bytes; free with
/// `csp_free_string`). Returns 0, or -1 with `err` filled when `id` is out of range.
int csp_id_to_piece(const csp_processor *processor, int32_t id, char **piece_out,
                    size_t *len_out, char *err, size_t err_cap);

/// Encodes UTF-8 text to ids with no BOS/EOS. On success returns 0 and a caller-owned array in
/// `*ids_out` (free with `csp_free_ids`; NULL when `*count_out` is 0). Returns -1 on failure.
int csp_encode(const csp_processor *processor, const char *text, size_t len, int32_t **ids_out,
               size_t *count_out, char *err, size_t err_cap);

/// Decodes ids to UTF-8 text (control ids vanish, byte pieces are joined, invalid UTF-8 becomes
/// U+FFFD). On success returns 0 and a caller-owned buffer (free with `csp_free_string`). Returns
/// -1 on failure, e.g. an id out of range.
int csp_decode(const csp_processor *processor, const int32_t *ids, size_t count, char **text_out,
               size_t *len_out, char *err, size_t err_cap);

void csp_free_ids(int32_t *ids);
void csp_free_string(char *text);

#ifdef __cplusplus
}
#endif

#endif  // CSENTENCEPIECE_H
