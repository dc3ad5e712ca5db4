import Testing

@testable import Imaging

@Suite struct SHA256Tests {
  /// FIPS 180-2 / NIST CAVP examples.
  static let vectors: [(String, String)] = [
    ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    ),
    (
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
    ),
  ]

  @Test(arguments: vectors.indices)
  func nistVectors(index: Int) {
    let (message, digest) = Self.vectors[index]
    #expect(ImageFeatureKey(bytes: Array(message.utf8)).hex == digest)
  }

  @Test func oneMillionA() {
    let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    #expect(ImageFeatureKey(bytes: [UInt8](repeating: 0x61, count: 1_000_000)).hex == expected)
    // The same in uneven pieces through the streaming interface.
    var hasher = SHA256()
    var remaining = 1_000_000
    var piece = 1
    while remaining > 0 {
      let n = min(piece, remaining)
      hasher.update([UInt8](repeating: 0x61, count: n))
      remaining -= n
      piece = piece * 3 % 997 + 1
    }
    #expect(hasher.finalize() == SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000)))
  }

  @Test func paddingBoundaries() {
    // Lengths around the 55/56/64-byte padding edges, streamed byte by byte vs one shot.
    for length in [55, 56, 57, 63, 64, 65, 119, 120, 128] {
      let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
      var hasher = SHA256()
      for byte in bytes { hasher.update([byte]) }
      #expect(hasher.finalize() == SHA256.hash(bytes), "length \(length)")
      #expect(SHA256.hash(AnySequence(bytes)) == SHA256.hash(bytes))
    }
  }

  @Test func keyFromHex() {
    let key = ImageFeatureKey(bytes: Array("abc".utf8))
    #expect(ImageFeatureKey(hex: key.hex.uppercased()) == key)
    #expect(ImageFeatureKey(hex: "abc") == nil)
    #expect(ImageFeatureKey(hex: String(repeating: "g", count: 64)) == nil)
    #expect(ImageFeatureKey(hex: String(repeating: "0", count: 65)) == nil)
    #expect(key.description == key.hex)
  }
}

@Suite struct ImageCacheTests {
  static func key(_ n: Int) -> ImageFeatureKey { ImageFeatureKey(bytes: [UInt8(n)]) }

  @Test func evictsLeastRecentlyUsedWithinBudget() {
    let cache = ImageCache<[Float]>(byteBudget: 100)
    #expect(cache.insert([1], for: Self.key(1), cost: 40))
    #expect(cache.insert([2], for: Self.key(2), cost: 40))
    #expect(cache.value(for: Self.key(1)) == [1])  // 1 is now more recent than 2
    #expect(cache.insert([3], for: Self.key(3), cost: 40))  // evicts 2
    #expect(cache.value(for: Self.key(2)) == nil)
    #expect(cache.value(for: Self.key(1)) == [1])
    #expect(cache.value(for: Self.key(3)) == [3])
    #expect(cache.count == 2 && cache.totalCost == 80)
  }

  @Test func replacingAndOversizedValues() {
    let cache = ImageCache<Int>(byteBudget: 100)
    cache.insert(1, for: Self.key(1), cost: 60)
    cache.insert(2, for: Self.key(1), cost: 30)
    #expect(cache.value(for: Self.key(1)) == 2 && cache.totalCost == 30)
    #expect(!cache.insert(3, for: Self.key(2), cost: 101))
    #expect(cache.value(for: Self.key(2)) == nil && cache.count == 1)
    #expect(cache.insert(4, for: Self.key(3), cost: 100))  // evicts everything else
    #expect(cache.count == 1 && cache.totalCost == 100)
    #expect(cache.removeValue(for: Self.key(3)) == 4 && cache.totalCost == 0)
    cache.insert(5, for: Self.key(4), cost: 1)
    cache.removeAll()
    #expect(cache.count == 0 && cache.totalCost == 0)
  }

  @Test func concurrentUseKeepsTheBudget() async {
    let cache = ImageCache<Int>(byteBudget: 1000)
    await withTaskGroup(of: Void.self) { group in
      for worker in 0..<8 {
        group.addTask {
          for i in 0..<500 {
            let key = Self.key((worker * 31 + i) % 50)
            if cache.value(for: key) == nil { cache.insert(i, for: key, cost: 10 + i % 90) }
          }
        }
      }
    }
    #expect(cache.totalCost <= 1000)
    #expect(cache.count > 0)
  }
}
