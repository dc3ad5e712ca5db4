#include "model_proto.hpp"

#include "csentencepiece.h"

#include <string_view>

namespace csp_detail {
namespace {

// Protobuf wire format: reads a base-128 varint at `pos`, advancing it. False on overrun.
bool read_varint(const std::string &s, size_t &pos, uint64_t &value) {
  value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= s.size()) return false;
    const uint8_t byte = static_cast<uint8_t>(s[pos++]);
    value |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

void write_varint(std::string &out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// Walks the top-level fields of a serialized protobuf message, calling
// `visit(field, wire, varint, payload, start, end)` for each; `payload` is set for wire type 2.
// Returns false (with the failing offset in `pos`) when the framing is broken.
template <typename Visit>
bool walk_fields(const std::string &in, size_t &pos, Visit visit) {
  pos = 0;
  while (pos < in.size()) {
    const size_t start = pos;
    uint64_t key = 0;
    uint64_t value = 0;
    std::string_view payload;
    if (!read_varint(in, pos, key)) return false;
    const uint32_t wire = key & 7;
    if (wire == 0) {
      if (!read_varint(in, pos, value)) return false;
    } else if (wire == 1 || wire == 5) {
      const size_t width = wire == 1 ? 8 : 4;
      if (width > in.size() - pos) return false;
      pos += width;
    } else if (wire == 2) {
      if (!read_varint(in, pos, value) || value > in.size() - pos) return false;
      payload = std::string_view(in).substr(pos, value);
      pos += value;
    } else {
      return false;
    }
    visit(static_cast<uint32_t>(key >> 3), wire, value, payload, start, pos);
  }
  return true;
}

}  // namespace

// Rewrites a serialized ModelProto so that normalizer_spec (field 3) ends with
// `add_dummy_prefix = false` (field 3, varint 0); protobuf keeps the last value of a scalar field.
bool disable_dummy_prefix(const std::string &in, std::string &out, std::string &why) {
  out.clear();
  out.reserve(in.size() + 8);
  const std::string suffix("\x18\x00", 2);
  bool patched = false;
  size_t pos = 0;
  const bool ok = walk_fields(in, pos, [&](uint32_t field, uint32_t wire, uint64_t,
                                           std::string_view payload, size_t start, size_t end) {
    if (field == 3 && wire == 2) {
      out.push_back('\x1A');
      write_varint(out, payload.size() + suffix.size());
      out.append(payload);
      out.append(suffix);
      patched = true;
    } else {
      out.append(in, start, end - start);
    }
  });
  if (!ok) {
    why = "not a SentencePiece model: invalid protobuf framing at byte " + std::to_string(pos);
    return false;
  }
  if (!patched) out.append("\x1A\x02\x18\x00", 4);
  return true;
}

// Reads the normalizer settings that shape decoding (see csp_decode_flags).
uint32_t decode_flags(const std::string &model) {
  bool dummy = true;
  bool extra = true;
  bool denormalizer = false;
  size_t pos = 0;
  walk_fields(model, pos, [&](uint32_t field, uint32_t wire, uint64_t, std::string_view payload,
                              size_t, size_t) {
    if (wire != 2 || (field != 3 && field != 5)) return;
    const std::string spec(payload);
    size_t inner = 0;
    walk_fields(spec, inner, [&](uint32_t f, uint32_t w, uint64_t v, std::string_view p, size_t,
                                 size_t) {
      if (field == 3 && f == 3 && w == 0) dummy = v != 0;
      if (field == 3 && f == 4 && w == 0) extra = v != 0;
      if (field == 5 && f == 2 && w == 2 && !p.empty()) denormalizer = true;
    });
  });
  return (dummy ? CSP_ADD_DUMMY_PREFIX : 0) | (extra ? CSP_REMOVE_EXTRA_WHITESPACES : 0) |
         (denormalizer ? CSP_HAS_DENORMALIZER : 0);
}

}  // namespace csp_detail
