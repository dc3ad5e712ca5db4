// Minimal protobuf wire-format surgery on a serialized sentencepiece ModelProto, so that the shim
// needs no generated protobuf code (Debian's libsentencepiece-dev ships none).
#ifndef CSENTENCEPIECE_MODEL_PROTO_HPP
#define CSENTENCEPIECE_MODEL_PROTO_HPP

#include <cstdint>
#include <string>

namespace csp_detail {

/// Copies `in` to `out` with `normalizer_spec.add_dummy_prefix = false` appended to the normalizer
/// spec (protobuf keeps the last value of a scalar). False with a reason when framing is broken.
bool disable_dummy_prefix(const std::string &in, std::string &out, std::string &why);

/// CSP_ADD_DUMMY_PREFIX | CSP_REMOVE_EXTRA_WHITESPACES | CSP_HAS_DENORMALIZER as set in `model`.
uint32_t decode_flags(const std::string &model);

}  // namespace csp_detail

#endif  // CSENTENCEPIECE_MODEL_PROTO_HPP
