// Content keys of sequence positions for the scheduler's prefix sharing: two positions get the
// same key only when they hold the same token (or the same row of the same image) for the same
// model version, so equal key chains mean equal keys and values in the KV cache.
import Imaging

enum SequenceKeys {
  /// The keys of `tokens`, where the `imageTokenId` positions hold the rows of `images`, in
  /// order (each image contributes `rowsPerImage` consecutive positions).
  static func keys(
    tokens: [Int32],
    imageTokenId: Int32,
    images: [ImageFeatureKey],
    rowsPerImage: Int,
    salt: UInt64
  ) -> [UInt64] {
    var keys: [UInt64] = []
    keys.reserveCapacity(tokens.count)
    var imageRow = 0
    for token in tokens {
      if token == imageTokenId, rowsPerImage > 0, imageRow / rowsPerImage < images.count {
        let image = imageHash(images[imageRow / rowsPerImage])
        keys.append(mix(salt ^ image, 1 << 63 | UInt64(imageRow % rowsPerImage)))
        imageRow += 1
      } else {
        keys.append(Self.token(token, salt: salt))
      }
    }
    return keys
  }

  /// The key of a text token.
  static func token(_ token: Int32, salt: UInt64) -> UInt64 {
    mix(salt, UInt64(UInt32(bitPattern: token)))
  }

  /// A salt naming one model version, so versions never share cache blocks.
  static func salt(_ version: String) -> UInt64 {
    version.utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
  }

  /// The first 64 bits of the image's SHA-256.
  static func imageHash(_ key: ImageFeatureKey) -> UInt64 {
    UInt64(key.hex.prefix(16), radix: 16) ?? 0
  }

  /// SplitMix64's finaliser over `a ⊕ b·φ`: cheap and well spread.
  static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
    var z = a ^ (b &* 0x9E37_79B9_7F4A_7C15)
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
