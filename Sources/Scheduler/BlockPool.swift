// Paged KV block accounting with a prefix cache (after vLLM's automatic prefix caching). The
// scheduler only accounts: the executor owns the memory the block ids index.

/// A fixed pool of blocks: a free list, reference counts, and a cache of computed full blocks
/// keyed by a hash chained over (parent hash, the block's keys). Unreferenced cached blocks stay
/// until evicted, least recently released first.
struct BlockPool {
  let count: Int
  private var refcount: [Int32]
  private var hashOf: [UInt64?]
  private var free: [Int32]
  private var cached: [UInt64: Int32] = [:]
  // LRU of unreferenced cached blocks with lazy deletion: an entry is live while its stamp
  // matches the block's current stamp.
  private var lru: [(block: Int32, stamp: UInt64)] = []
  private var lruHead = 0
  private var stamp: [UInt64]
  private var clock: UInt64 = 0
  private(set) var evictableCount = 0

  init(count: Int) {
    self.count = count
    refcount = Array(repeating: 0, count: count)
    hashOf = Array(repeating: nil, count: count)
    stamp = Array(repeating: 0, count: count)
    // Reversed so that `popLast` hands out block 0 first (readable tests).
    free = (0..<Int32(count)).reversed()
  }

  var freeCount: Int { free.count }
  /// Blocks an allocation can get without preempting anyone.
  var availableCount: Int { free.count + evictableCount }
  var usedCount: Int { count - free.count - evictableCount }

  /// The cached block with this content, if any.
  func lookup(_ hash: UInt64) -> Int32? { cached[hash] }

  func isEvictable(_ block: Int32) -> Bool { refcount[Int(block)] == 0 }

  /// Takes a reference to a cached block (prefix reuse).
  mutating func retain(_ block: Int32) {
    let index = Int(block)
    if refcount[index] == 0 {
      evictableCount -= 1
      clock &+= 1
      stamp[index] = clock  // drops its LRU entry
    }
    refcount[index] += 1
  }

  /// A fresh block from the free list, else the least recently released cached one; nil when
  /// every block is referenced.
  mutating func allocate() -> Int32? {
    if let block = free.popLast() {
      refcount[Int(block)] = 1
      return block
    }
    while lruHead < lru.count {
      let entry = lru[lruHead]
      lruHead += 1
      let index = Int(entry.block)
      guard refcount[index] == 0, stamp[index] == entry.stamp, let hash = hashOf[index] else {
        continue
      }
      compactLRU()
      cached[hash] = nil
      hashOf[index] = nil
      evictableCount -= 1
      refcount[index] = 1
      return entry.block
    }
    return nil
  }

  /// Drops a reference; an unreferenced block goes back to the cache when it holds a registered
  /// hash, else to the free list.
  mutating func release(_ block: Int32) {
    let index = Int(block)
    precondition(refcount[index] > 0, "releasing an unreferenced block")
    refcount[index] -= 1
    guard refcount[index] == 0 else { return }
    if hashOf[index] != nil {
      clock &+= 1
      stamp[index] = clock
      lru.append((block, clock))
      evictableCount += 1
    } else {
      free.append(block)
    }
  }

  /// Registers a computed full block under its content hash. Returns false when another block
  /// already holds that content (this one then stays private and is freed normally).
  @discardableResult
  mutating func register(_ block: Int32, hash: UInt64) -> Bool {
    let index = Int(block)
    guard hashOf[index] == nil, cached[hash] == nil else { return false }
    hashOf[index] = hash
    cached[hash] = block
    return true
  }

  private mutating func compactLRU() {
    if lruHead > 1024 && lruHead * 2 > lru.count {
      lru.removeFirst(lruHead)
      lruHead = 0
    }
  }
}

/// The content hash of a full block chained over its parent's hash (FNV-1a over 64-bit words,
/// then a final mix). Deterministic across processes.
func chainHash(parent: UInt64, keys: ArraySlice<UInt64>) -> UInt64 {
  var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ parent
  for key in keys {
    h = (h ^ key) &* 0x0000_0100_0000_01b3
    h ^= h >> 29
  }
  h ^= h >> 33
  h = h &* 0xff51_afd7_ed55_8ccd
  h ^= h >> 33
  return h
}
