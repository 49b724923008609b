// The indicator index: an immutable, compact lookup structure over every loaded indicator, and the
// builder that makes one. Matching threads share one `const Index` through a shared_ptr; loading
// new indicators builds a new Index and swaps it in (LiveIndex), so events keep flowing.
//
// Layout (why it is small): each indicator is one 32-byte Record plus one 16-byte Source per feed
// that carries it; values live in per-type open-addressing tables whose slots hold 4-byte entry
// numbers over dense key arrays (IPv4 as uint32, hashes as raw bytes, strings as 64-bit hashes
// verified against a shared arena), and contexts (actor, malware, ATT&CK ids, report) are stored
// once and referenced by number.
//
// Thread safety: Index is immutable after build and safe to read from any number of threads.
// IndexBuilder is single-threaded. LiveIndex is safe for concurrent load() and store().
#pragma once

#include <array>
#include <atomic>
#include <cstring>
#include <optional>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/time.h"
#include "intel/indicator.h"

namespace td::intel {

class Warninglists;

using IndicatorId = std::uint32_t;  // position in one Index; not stable across rebuilds

struct FeedInfo {
  std::string name;  // unique per index, e.g. "feodotracker" or the file name
  int default_confidence = 50;
};

// Open-addressing table: slots hold entry numbers + 1 (0 = empty) over dense key/target arrays.
// Duplicate keys are allowed (a value that is both a plain indicator and an atom of a compound).
template <typename Key>
class KeyTable {
 public:
  void reserve(size_t n) {
    keys_.reserve(n);
    targets_.reserve(n);
  }
  std::uint32_t add(const Key& key, std::uint32_t target) {
    keys_.push_back(key);
    targets_.push_back(target);
    return static_cast<std::uint32_t>(keys_.size() - 1);
  }
  void seal();  // builds the slots; call once after the last add
  template <typename F>
  void find(const Key& key, F&& on_target) const {
    if (slots_.empty()) return;
    size_t i = hashKey(key) & mask_;
    while (std::uint32_t s = slots_[i]) {
      if (keys_[s - 1] == key) on_target(targets_[s - 1]);
      i = (i + 1) & mask_;
    }
  }
  const Key& key(std::uint32_t entry) const { return keys_[entry]; }
  size_t size() const { return keys_.size(); }
  size_t bytes() const {
    return keys_.capacity() * sizeof(Key) + targets_.capacity() * 4 + slots_.capacity() * 4;
  }
  static std::uint64_t hashKey(const Key& key);

 private:
  std::vector<Key> keys_;
  std::vector<std::uint32_t> targets_;
  std::vector<std::uint32_t> slots_;
  size_t mask_ = 0;
};

struct Ipv6Key {
  std::array<std::uint8_t, 16> bytes{};
  bool operator==(const Ipv6Key&) const = default;
};
template <size_t N>
struct HashKey {
  std::array<std::uint8_t, N> bytes{};
  bool operator==(const HashKey&) const = default;
};

// One feed's view of an indicator.
struct SourceView {
  std::string_view feed;
  std::string_view external_id;
  int confidence = -1;
  const Context* context = nullptr;
};

class Index {
 public:
  // A read-only view of one indicator.
  struct View {
    IndicatorId id = 0;
    IndicatorType type = IndicatorType::kIpv4;
    std::string value;  // canonical text
    core::TimeMs first_seen = 0, last_seen = 0, valid_from = 0, valid_until = 0;
    std::vector<SourceView> sources;
    int confidence = -1;  // the highest of its sources (feed default when a source has none)
  };

  size_t size() const { return records_.size(); }
  View view(IndicatorId id) const;
  IndicatorType type(IndicatorId id) const { return static_cast<IndicatorType>(records_[id].type); }
  std::string value(IndicatorId id) const;
  // Best confidence over the sources, feed defaults applied.
  int confidence(IndicatorId id) const;
  // True when the indicator is valid at `now` (not before valid_from, not after valid_until).
  bool activeAt(IndicatorId id, core::TimeMs now) const;
  // The atoms a compound needs (all must be seen in one event).
  std::uint32_t atomCount(IndicatorId id) const;
  const std::vector<FeedInfo>& feeds() const { return feeds_; }
  const std::vector<Context>& contexts() const { return contexts_; }

  // Lookups in canonical value space. Each calls `hit(target)` for every indicator the value
  // matches. A target is either an IndicatorId or, with kAtomBit set, an atom of a compound
  // (see atom()). None allocates or throws.
  static constexpr std::uint32_t kAtomBit = 0x80000000u;
  struct AtomRef {
    IndicatorId compound;
    std::uint32_t value_off;  // string atoms: the canonical value in the arena
    std::uint16_t value_len;
    std::uint8_t atom;
    IndicatorType type;
  };
  AtomRef atom(std::uint32_t target) const { return atoms_[target & ~kAtomBit]; }

  template <typename F>
  void findIpv4(std::uint32_t ip, F&& hit) const;
  template <typename F>
  void findIpv6(const std::array<std::uint8_t, 16>& ip, F&& hit) const;
  // `domain` must be normalised (normalizeDomain); matches it and every parent domain.
  template <typename F>
  void findDomain(std::string_view domain, F&& hit) const;
  template <typename F>
  void findString(IndicatorType type, std::string_view canonical, F&& hit) const;  // url/email/file
  // `hex` of 32/40/64/128 hex digits, any case.
  template <typename F>
  void findHash(std::string_view hex, F&& hit) const;

  // Memory actually held (capacities), for the benchmark's bytes per indicator.
  size_t memoryBytes() const;
  // Every indicator id with the given canonical type and value, or none (builder merging).
  std::optional<IndicatorId> findExact(IndicatorType type, std::string_view canonical) const;

 private:
  friend class IndexBuilder;
  struct Record {
    std::uint32_t value_ref = 0;    // IPv4: the address; hashes: table entry; else arena offset
    std::uint32_t value_len = 0;    // arena length (strings)
    std::uint32_t source_begin = 0;
    std::uint16_t source_count = 0;
    std::uint8_t type = 0;
    std::uint8_t atom_count = 0;
    std::uint32_t first_seen = 0, last_seen = 0, valid_from = 0, valid_until = 0;  // Unix s
  };
  struct Source {
    std::uint32_t external_off = 0;
    std::uint32_t context = 0;
    std::uint16_t external_len = 0;
    std::uint16_t feed = 0;
    std::int8_t confidence = -1;
  };
  static_assert(sizeof(Record) == 32);
  static_assert(sizeof(Source) == 16);

  std::string_view arena(std::uint32_t off, std::uint32_t len) const {
    return std::string_view(arena_.data() + off, len);
  }
  template <typename F>
  void verifyString(std::uint32_t target, std::string_view canonical, F& hit) const;

  std::vector<Record> records_;
  std::vector<Source> sources_;
  std::vector<AtomRef> atoms_;
  std::string arena_;
  std::vector<FeedInfo> feeds_;
  std::vector<Context> contexts_;

  KeyTable<std::uint32_t> ipv4_;
  KeyTable<Ipv6Key> ipv6_;
  std::array<KeyTable<std::uint32_t>, 33> cidr4_;
  std::uint64_t cidr4_lengths_ = 0;  // bit n: some /n network exists
  std::vector<std::pair<int, KeyTable<Ipv6Key>>> cidr6_;  // by prefix length, longest first
  KeyTable<std::uint64_t> domains_;
  KeyTable<std::uint64_t> urls_;
  KeyTable<std::uint64_t> emails_;
  KeyTable<std::uint64_t> file_names_;
  KeyTable<HashKey<16>> md5_;
  KeyTable<HashKey<20>> sha1_;
  KeyTable<HashKey<32>> sha256_;
  KeyTable<HashKey<64>> sha512_;
};

// What an import did, counted per indicator (a STIX pattern with three alternatives counts
// three). Every rejection and suppression carries its reason.
struct ImportReport {
  struct Item {
    std::string where;   // "row 12", "indicator--… pattern", "Attribute[3]"
    std::string value;
    std::string reason;
  };
  std::string feed;
  size_t added = 0, updated = 0, expired = 0, suppressed = 0, rejected = 0;
  std::vector<Item> rejections;
  std::vector<Item> suppressions;  // reason names the warninglist or allow-list
  std::vector<std::string> warnings;
  static constexpr size_t kMaxItems = 1000;  // counts stay exact; the lists are capped
  void reject(std::string where, std::string value, std::string reason);
  void suppress(std::string where, std::string value, std::string reason);
};

// A parsed feed, not yet in any index: importers return this so that a malformed feed never
// touches the live index.
struct FeedBatch {
  FeedInfo feed;
  std::vector<IndicatorDraft> indicators;
  std::vector<std::string> where;  // parallel to indicators: the position in the feed
  ImportReport report;             // rejections found while parsing
};

struct BuildOptions {
  core::TimeMs now = 0;                        // 0: core::nowMs()
  const Warninglists* warninglists = nullptr;  // suppress known-benign values
};

class IndexBuilder {
 public:
  IndexBuilder() = default;
  // Starts from everything in `base` (for adding a feed to a live index).
  explicit IndexBuilder(const Index& base);
  // Replaces every indicator of `feed` (a refresh) when `replace_feed` is true. When `accepted`
  // is given, it is called with every draft that goes in (not expired, not suppressed), as the
  // feed gave it, before the builder takes it over: what a store keeps for the feed.
  ImportReport add(FeedBatch batch, const BuildOptions& options = {}, bool replace_feed = true,
                   const std::function<void(const IndicatorDraft&)>& accepted = nullptr);
  size_t size() const { return drafts_.size(); }
  std::shared_ptr<const Index> build() const;

 private:
  struct Merged {
    IndicatorDraft base;  // value, type, atoms, merged times
    struct Src {
      std::uint16_t feed;
      std::string external_id;
      int confidence;
      std::uint32_t context;
    };
    std::vector<Src> sources;
  };
  std::uint16_t feedId(const FeedInfo& feed);
  std::uint32_t contextId(const Context& ctx);
  // The slot of (type, value) in slots_: high 32 bits of its hash | its draft number + 1, or 0
  // where a new one goes (set it with newSlot()).
  std::uint64_t& slotFor(IndicatorType type, std::string_view value);
  std::uint64_t newSlot() const { return last_tag_ | drafts_.size(); }  // after the push_back
  static std::uint32_t draftOf(std::uint64_t slot) { return static_cast<std::uint32_t>(slot) - 1; }
  void reserveSlots(size_t drafts);

  std::vector<Merged> drafts_;
  // Open addressing over drafts_ (load at most 1/2), keyed by type and value without a string per
  // key; the hash bits in each slot spare a look at the draft for all but true matches.
  std::vector<std::uint64_t> slots_;
  std::uint64_t last_tag_ = 0;
  std::vector<FeedInfo> feeds_;
  std::vector<Context> contexts_;
  std::unordered_map<std::string, std::uint32_t> context_ids_;
  std::uint32_t last_context_ = 0;  // rows of one feed often share their context
};

// The keys (type and canonical value) of a set of indicators, without the rest of them: what an
// import is counted against when only its report and its accepted drafts are needed, not a new
// index (a store import while the organisation's index is not in memory). About 9 bytes per key
// plus the values' text.
class KeySet {
 public:
  // Room for `keys` keys of `bytes` value bytes in all.
  void reserve(size_t keys, size_t bytes);
  // True when (type, value) was not in the set; it is now.
  bool insert(IndicatorType type, std::string_view value);
  size_t size() const { return ends_.size(); }
  // Where insert(type, value) looks first, for prefetching a few inserts ahead.
  const void* slotAddress(IndicatorType type, std::string_view value) const;

 private:
  static constexpr std::uint64_t kTag = 0xffffffff00000000ULL;
  void rehash(size_t cap);
  std::string_view keyAt(std::uint32_t k) const;  // type byte, then the value

  std::string arena_;
  std::vector<size_t> ends_;          // where each key's bytes end in arena_
  std::vector<std::uint64_t> slots_;  // hash tag | key number + 1; 0 empty
};

// What IndexBuilder::add(batch, options, replace_feed, ...) reports when the index it adds to
// holds exactly the indicators whose keys are in `known` (with every one still valid at
// options.now): the same expired, suppressed, added and updated counts and the same drafts
// accepted, without building anything. `known` then holds the batch's keys too. Each accepted
// draft is handed to `accepted`, which may move from it.
ImportReport countImport(FeedBatch batch, const BuildOptions& options, KeySet& known,
                         const std::function<void(IndicatorDraft&)>& accepted);

// The index the matcher reads: swapped atomically when feeds change.// The index the matcher reads: swapped atomically when feeds change.
class LiveIndex {
 public:
  LiveIndex() : index_(std::make_shared<const Index>()) {}
  std::shared_ptr<const Index> load() const { return index_.load(std::memory_order_acquire); }
  void store(std::shared_ptr<const Index> index) {
    index_.store(std::move(index), std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<const Index>> index_;
};

// ---- inline lookups (hot path) -------------------------------------------------------------

std::uint64_t hashString(std::string_view s);

template <typename Key>
void KeyTable<Key>::seal() {
  size_t cap = 16;
  while (cap < keys_.size() * 2) cap <<= 1;  // load factor at most 1/2: short probe runs
  slots_.assign(keys_.empty() ? 0 : cap, 0);
  mask_ = cap - 1;
  for (size_t e = 0; e < keys_.size(); ++e) {
    size_t i = hashKey(keys_[e]) & mask_;
    while (slots_[i] != 0) i = (i + 1) & mask_;
    slots_[i] = static_cast<std::uint32_t>(e + 1);
  }
}

inline std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

template <typename Key>
std::uint64_t KeyTable<Key>::hashKey(const Key& key) {
  if constexpr (std::is_same_v<Key, std::uint32_t> || std::is_same_v<Key, std::uint64_t>) {
    return mix64(key);
  } else {
    std::uint64_t a = 0, b = 0;
    std::memcpy(&a, key.bytes.data(), 8);
    std::memcpy(&b, key.bytes.data() + 8, 8);
    return mix64(a ^ mix64(b));
  }
}

template <typename F>
void Index::findIpv4(std::uint32_t ip, F&& hit) const {
  ipv4_.find(ip, hit);
  std::uint64_t lengths = cidr4_lengths_;
  while (lengths) {
    int len = 63 - __builtin_clzll(lengths);
    lengths &= ~(std::uint64_t{1} << len);
    std::uint32_t mask = len == 0 ? 0 : ~std::uint32_t{0} << (32 - len);
    cidr4_[len].find(ip & mask, hit);
  }
}

template <typename F>
void Index::findIpv6(const std::array<std::uint8_t, 16>& ip, F&& hit) const {
  ipv6_.find(Ipv6Key{ip}, hit);
  for (const auto& [len, table] : cidr6_) {
    Ipv6Key net{ip};
    for (int i = 0; i < 16; ++i) {
      int keep = len - i * 8;
      if (keep >= 8) continue;
      net.bytes[i] = keep <= 0 ? 0 : static_cast<std::uint8_t>(net.bytes[i] & (0xff << (8 - keep)));
    }
    table.find(net, hit);
  }
}

// String tables key on a 64-bit hash; the arena copy confirms the value so that a collision
// (crafted or not) never raises a false match.
template <typename F>
void Index::verifyString(std::uint32_t target, std::string_view canonical, F& hit) const {
  std::string_view stored;
  if (target & kAtomBit) {
    const AtomRef& a = atoms_[target & ~kAtomBit];
    stored = arena(a.value_off, a.value_len);
  } else {
    stored = arena(records_[target].value_ref, records_[target].value_len);
  }
  if (stored == canonical) hit(target);
}

template <typename F>
void Index::findDomain(std::string_view domain, F&& hit) const {
  if (domains_.size() == 0) return;
  // The domain itself, then each parent at a label boundary (a.b.evil.com -> b.evil.com -> ...).
  while (!domain.empty()) {
    domains_.find(hashString(domain), [&](std::uint32_t t) { verifyString(t, domain, hit); });
    auto dot = domain.find('.');
    if (dot == std::string_view::npos) break;
    domain.remove_prefix(dot + 1);
  }
}

template <typename F>
void Index::findString(IndicatorType type, std::string_view canonical, F&& hit) const {
  const KeyTable<std::uint64_t>* table = nullptr;
  switch (type) {
    case IndicatorType::kUrl: table = &urls_; break;
    case IndicatorType::kEmail: table = &emails_; break;
    case IndicatorType::kFileName: table = &file_names_; break;
    case IndicatorType::kDomain: table = &domains_; break;
    default: return;
  }
  if (table->size() == 0) return;
  table->find(hashString(canonical), [&](std::uint32_t t) { verifyString(t, canonical, hit); });
}

template <typename F>
void Index::findHash(std::string_view hex, F&& hit) const {
  switch (hex.size()) {
    case 32: {
      HashKey<16> k;
      if (md5_.size() && decodeHex(hex, k.bytes.data(), 16)) md5_.find(k, hit);
      break;
    }
    case 40: {
      HashKey<20> k;
      if (sha1_.size() && decodeHex(hex, k.bytes.data(), 20)) sha1_.find(k, hit);
      break;
    }
    case 64: {
      HashKey<32> k;
      if (sha256_.size() && decodeHex(hex, k.bytes.data(), 32)) sha256_.find(k, hit);
      break;
    }
    case 128: {
      HashKey<64> k;
      if (sha512_.size() && decodeHex(hex, k.bytes.data(), 64)) sha512_.find(k, hit);
      break;
    }
    default: break;
  }
}

}  // namespace td::intel
