#include "detect/event.h"

#include <charconv>
#include <cstring>

#include "detect/word_load.h"

namespace td::detect {
namespace {

constexpr int kMaxDepth = 32;
constexpr size_t kChunkSize = 16 * 1024;

inline unsigned char lowerAscii(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c + 32) : c;
}

constexpr std::uint64_t kOnes = 0x0101010101010101ull;
constexpr std::uint64_t kHighs = 0x8080808080808080ull;
constexpr std::uint64_t kSpaces = 0x2020202020202020ull;

inline bool hasSpace(std::uint64_t w) {
  const std::uint64_t x = w ^ kSpaces;
  return ((x - kOnes) & ~x & kHighs) != 0;
}

inline std::uint64_t mix(std::uint64_t h, std::uint64_t w) {
  h ^= w;
  h *= 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 29);
}

// A key without its spaces (Sigma's ThreatName is Windows Defender's "Threat Name"): the key
// itself unless it has one, else a copy in `buf` (truncated at 256 bytes).
std::string_view withoutSpaces(std::string_view key, char (&buf)[256]) {
  size_t i = 0;
  for (; i + 8 <= key.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, key.data() + i, 8);
    if (hasSpace(w)) break;
  }
  if (std::memchr(key.data() + i, ' ', key.size() - i) == nullptr) return key;
  size_t n = 0;
  for (char c : key) {
    if (c != ' ' && n < sizeof buf) buf[n++] = c;
  }
  return {buf, n};
}

// The word with its ASCII capitals lower-cased (SWAR).
inline std::uint64_t lowerWord(std::uint64_t w) {
  const std::uint64_t low7 = w & ~kHighs;
  const std::uint64_t ge_a = low7 + 0x3F3F3F3F3F3F3F3Full;  // high bit: byte >= 'A'
  const std::uint64_t gt_z = low7 + 0x2525252525252525ull;  // high bit: byte > 'Z'
  const std::uint64_t upper = ge_a & ~gt_z & ~w & kHighs;
  return w | (upper >> 2);
}

// A hash of a key that ignores ASCII case (bit 5 set on every byte), eight bytes at a time.
// `spaced` is set when the key has a space (its hash must then be taken without them).
std::uint64_t keyHash(std::string_view key, bool& spaced) {
  std::uint64_t h = key.size();
  bool space = false;
  size_t k = 0;
  for (; k + 8 <= key.size(); k += 8) {
    std::uint64_t w;
    std::memcpy(&w, key.data() + k, 8);
    space |= hasSpace(w);
    h = mix(h, w | kSpaces);
  }
  if (k < key.size()) {
    const std::uint64_t w = loadTail(key.data() + k, key.size() - k);
    space |= hasSpace(w);
    h = mix(h, w | kSpaces);
  }
  spaced = space;
  return h;
}

std::uint64_t keyHash(std::string_view key) {
  bool spaced = false;
  return keyHash(key, spaced);
}

}  // namespace

size_t CaseInsensitiveHash::operator()(std::string_view s) const noexcept {
  size_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    if (c == ' ') continue;
    h ^= lowerAscii(c);
    h *= 1099511628211ull;
  }
  return h;
}

bool CaseInsensitiveEq::operator()(std::string_view a, std::string_view b) const noexcept {
  size_t i = 0, j = 0;
  while (true) {
    while (i < a.size() && a[i] == ' ') ++i;
    while (j < b.size() && b[j] == ' ') ++j;
    if (i == a.size() || j == b.size()) return i == a.size() && j == b.size();
    if (lowerAscii(static_cast<unsigned char>(a[i])) !=
        lowerAscii(static_cast<unsigned char>(b[j]))) {
      return false;
    }
    ++i;
    ++j;
  }
}

// ---- EventLayout
// ---------------------------------------------------------------------------------

EventLayout::EventLayout(FieldMap map, const std::vector<std::string>& fields, bool want_keywords)
    : map_(std::move(map)) {
  nodes_.emplace_back();
  for (std::uint32_t slot = 0; slot < fields.size(); ++slot) {
    const std::string& field = fields[slot];
    std::uint16_t rank = 0;
    if (field == kTimestampField) {
      for (const auto& p : map_.timestamp) insert(p, 0, slot, rank++);
      continue;
    }
    const std::vector<FieldPath>* explicit_paths = nullptr;
    if (auto it = map_.fields.find(field); it != map_.fields.end()) {
      explicit_paths = &it->second;
    } else {
      for (const auto& [name, paths] : map_.fields) {
        if (CaseInsensitiveEq()(name, field)) explicit_paths = &paths;
      }
    }
    if (explicit_paths) {
      for (const auto& p : *explicit_paths) insert(p, 0, slot, rank++);
    }
    const FieldPath field_path = splitPath(field);
    for (const auto& container : map_.containers) {
      FieldPath full = container;
      full.insert(full.end(), field_path.begin(), field_path.end());
      insert(full, 0, slot, rank++);
    }
  }
  if (want_keywords) {
    for (const auto& p : map_.keywords) {
      std::uint32_t n = 0;
      for (const auto& key : p) n = child(n, key);
      nodes_[n].keywords = true;
    }
  }
  buildTables();
}

void EventLayout::buildTables() {
  for (auto& node : nodes_) {
    node.table.clear();
    node.keys.clear();
    if (node.children.empty()) continue;
    size_t size = 4;
    while (size < node.children.size() * 2) size *= 2;
    node.table.assign(size, {});
    node.mask = size - 1;
    for (const auto& [key, id] : node.children) {
      char buf[256];
      std::string normal(withoutSpaces(key, buf));
      for (auto& c : normal) c = static_cast<char>(lowerAscii(static_cast<unsigned char>(c)));
      const std::uint64_t h = keyHash(normal);
      size_t i = h & node.mask;
      while (node.table[i].child >= 0) i = (i + 1) & node.mask;
      Node::Entry& e = node.table[i];
      e.hash = h;
      e.child = static_cast<std::int32_t>(id);
      e.key = static_cast<std::uint32_t>(node.keys.size());
      e.len = static_cast<std::uint32_t>(normal.size());
      if (normal.size() <= 32) std::memcpy(e.text, normal.data(), normal.size());
      node.keys.push_back(std::move(normal));
    }
  }
}

std::int32_t EventLayout::find(const Node& node, std::string_view key) const {
  if (node.table.empty()) return -1;
  char buf[256];
  bool spaced = false;
  std::uint64_t h = keyHash(key, spaced);
  if (spaced) {
    key = withoutSpaces(key, buf);
    h = keyHash(key);
  }
  for (size_t i = h & node.mask;; i = (i + 1) & node.mask) {
    const Node::Entry& e = node.table[i];
    if (e.child < 0) return -1;
    if (e.hash != h || e.len != key.size()) continue;
    if (key.size() <= 32) {
      // The lower-cased key is in the entry, zero-padded: compare a word at a time.
      size_t k = 0;
      bool eq = true;
      for (; k + 8 <= key.size() && eq; k += 8) {
        std::uint64_t a, b;
        std::memcpy(&a, key.data() + k, 8);
        std::memcpy(&b, e.text + k, 8);
        eq = lowerWord(a) == b;
      }
      if (eq && k < key.size()) {
        std::uint64_t b;
        std::memcpy(&b, e.text + k, 8);
        eq = lowerWord(loadTail(key.data() + k, key.size() - k)) == b;
      }
      if (eq) return e.child;
      continue;
    }
    const std::string& known = node.keys[e.key];
    if (known.size() != key.size()) continue;
    size_t k = 0;
    while (k < key.size() &&
           lowerAscii(static_cast<unsigned char>(key[k])) == static_cast<unsigned char>(known[k])) {
      ++k;
    }
    if (k == key.size()) return e.child;
  }
}

std::uint32_t EventLayout::child(std::uint32_t node, const std::string& key) {
  if (key == "*") {
    if (nodes_[node].wildcard < 0) {
      nodes_.emplace_back();
      nodes_[node].wildcard = static_cast<std::int32_t>(nodes_.size() - 1);
    }
    return static_cast<std::uint32_t>(nodes_[node].wildcard);
  }
  auto it = nodes_[node].children.find(key);
  if (it != nodes_[node].children.end()) return it->second;
  nodes_.emplace_back();
  const auto id = static_cast<std::uint32_t>(nodes_.size() - 1);
  nodes_[node].children.emplace(key, id);
  return id;
}

void EventLayout::insert(const FieldPath& path, size_t from, std::uint32_t slot,
                         std::uint16_t rank) {
  if (path.empty()) return;
  std::uint32_t n = 0;
  for (size_t i = from; i < path.size(); ++i) n = child(n, path[i]);
  auto& slots = nodes_[n].slots;
  for (const auto& s : slots) {
    if (s.first == slot) return;  // the same path twice: keep the better (earlier) rank
  }
  slots.emplace_back(slot, rank);
}

bool EventLayout::fits(simdjson::dom::element root) const {
  if (map_.shape.empty()) return true;
  for (const auto& path : map_.shape) {
    simdjson::dom::element cur = root;
    bool ok = true;
    for (const auto& key : path) {
      simdjson::dom::object obj;
      if (cur.get_object().get(obj) != simdjson::SUCCESS ||
          obj[key].get(cur) != simdjson::SUCCESS) {
        ok = false;
        break;
      }
    }
    if (ok) return true;
  }
  return false;
}

// ---- EventFields
// ---------------------------------------------------------------------------------

EventFields::EventFields(size_t slot_count) : slots_(slot_count) {
  chunks_.push_back(std::make_unique<char[]>(kChunkSize));
}

void EventFields::reset() {
  for (auto s : touched_) {
    slots_[s].values.clear();
    slots_[s].rank = UINT16_MAX;
  }
  touched_.clear();
  keywords_.clear();
  keyword_roots_.clear();
  keywords_collected_ = false;
  chunk_index_ = 0;
  chunk_used_ = 0;
}

std::string_view EventFields::store(std::string_view s) {
  if (s.size() > kChunkSize) return {};
  if (chunk_used_ + s.size() > kChunkSize) {
    ++chunk_index_;
    chunk_used_ = 0;
    if (chunk_index_ == chunks_.size()) chunks_.push_back(std::make_unique<char[]>(kChunkSize));
  }
  char* dst = chunks_[chunk_index_].get() + chunk_used_;
  std::memcpy(dst, s.data(), s.size());
  chunk_used_ += s.size();
  return {dst, s.size()};
}

bool EventFields::scalar(simdjson::dom::element value, FieldValue& out) {
  char buf[64];
  switch (value.type()) {
    case simdjson::dom::element_type::STRING: {
      std::string_view s;
      if (value.get_string().get(s) != simdjson::SUCCESS) return false;
      out = {s, ValueKind::kString};
      return true;
    }
    case simdjson::dom::element_type::INT64: {
      std::int64_t v = 0;
      if (value.get_int64().get(v) != simdjson::SUCCESS) return false;
      auto r = std::to_chars(buf, buf + sizeof buf, v);
      out = {store({buf, static_cast<size_t>(r.ptr - buf)}), ValueKind::kNumber};
      return true;
    }
    case simdjson::dom::element_type::UINT64: {
      std::uint64_t v = 0;
      if (value.get_uint64().get(v) != simdjson::SUCCESS) return false;
      auto r = std::to_chars(buf, buf + sizeof buf, v);
      out = {store({buf, static_cast<size_t>(r.ptr - buf)}), ValueKind::kNumber};
      return true;
    }
    case simdjson::dom::element_type::DOUBLE: {
      double v = 0;
      if (value.get_double().get(v) != simdjson::SUCCESS) return false;
      auto r = std::to_chars(buf, buf + sizeof buf, v);
      out = {store({buf, static_cast<size_t>(r.ptr - buf)}), ValueKind::kNumber};
      return true;
    }
    case simdjson::dom::element_type::BOOL: {
      bool v = false;
      if (value.get_bool().get(v) != simdjson::SUCCESS) return false;
      out = {v ? std::string_view("true") : std::string_view("false"), ValueKind::kBool};
      return true;
    }
    case simdjson::dom::element_type::NULL_VALUE:
      out = {std::string_view(), ValueKind::kNull};
      return true;
    default:
      return false;
  }
}

void EventFields::put(std::uint32_t slot, std::uint16_t rank, FieldValue v) {
  Slot& s = slots_[slot];
  if (rank < s.rank) {
    if (s.rank == UINT16_MAX) touched_.push_back(slot);
    s.values.clear();
    s.rank = rank;
  } else if (rank > s.rank) {
    return;
  }
  if (s.values.size() < 256) s.values.push_back(v);
}

void EventFields::assign(const EventLayout::Node& node, simdjson::dom::element value,
                         const std::string& text_key) {
  FieldValue v;
  const auto type = value.type();
  if (type == simdjson::dom::element_type::ARRAY) {
    simdjson::dom::array arr;
    if (value.get_array().get(arr) != simdjson::SUCCESS) return;
    bool any = false;
    for (auto elem : arr) {
      if (scalar(elem, v)) {
        for (const auto& [slot, rank] : node.slots) put(slot, rank, v);
        any = true;
      }
    }
    if (!any) {
      for (const auto& [slot, rank] : node.slots) put(slot, rank, {{}, ValueKind::kObject});
    }
    return;
  }
  if (type == simdjson::dom::element_type::OBJECT) {
    simdjson::dom::element text;
    simdjson::dom::object obj;
    if (value.get_object().get(obj) == simdjson::SUCCESS &&
        obj[text_key].get(text) == simdjson::SUCCESS) {
      assign(node, text, text_key);
      return;
    }
    for (const auto& [slot, rank] : node.slots) put(slot, rank, {{}, ValueKind::kObject});
    return;
  }
  if (scalar(value, v)) {
    for (const auto& [slot, rank] : node.slots) put(slot, rank, v);
  }
}

void EventFields::collectKeywords(simdjson::dom::element value, int depth) {
  if (depth > kMaxDepth || keywords_.size() >= 4096) return;
  switch (value.type()) {
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object obj;
      if (value.get_object().get(obj) != simdjson::SUCCESS) return;
      for (auto field : obj) collectKeywords(field.value, depth + 1);
      return;
    }
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array arr;
      if (value.get_array().get(arr) != simdjson::SUCCESS) return;
      for (auto elem : arr) collectKeywords(elem, depth + 1);
      return;
    }
    default: {
      FieldValue v;
      if (scalar(value, v) && v.kind != ValueKind::kNull) keywords_.push_back(v.text);
    }
  }
}

std::int32_t EventFields::findChild(const EventLayout& layout, std::uint32_t node,
                                    std::uint32_t position, std::string_view key) {
  constexpr std::uint32_t kMaxPositions = 256;
  const size_t n = key.size();
  if (n > kMemoKeyBytes || position >= kMaxPositions) {
    return layout.find(layout.nodes_[node], key);
  }
  auto& seen = (*memo_)[node];
  if (position >= seen.size()) seen.resize(position + 1);
  KeyMemo& m = seen[position];
  // The key as KeyMemo's words: two or three loads, no loop (most keys are 8-16 bytes).
  std::uint64_t a = 0, b = 0, c = 0;
  if (n >= 8) {
    std::memcpy(&a, key.data(), 8);
    std::memcpy(&b, key.data() + n - 8, 8);
    if (n > 16) std::memcpy(&c, key.data() + 8, 8);
  } else if (n > 0) {
    a = loadTail(key.data(), n);
  }
  if (m.len == n && m.a == a && m.b == b && m.c == c) return m.child;
  m.child = layout.find(layout.nodes_[node], key);
  m.len = static_cast<std::uint32_t>(n);
  m.a = a;
  m.b = b;
  m.c = c;
  return m.child;
}

void EventFields::walk(const EventLayout& layout, std::uint32_t node_id,
                       simdjson::dom::element value, bool keywords, bool gather, int depth) {
  if (depth > kMaxDepth) return;
  const EventLayout::Node& node = layout.nodes_[node_id];
  if (node.keywords && !keywords) {
    // Every scalar below is a keyword value, in document order: gathered in this walk, or the
    // subtree noted and gathered when asked (collectKeywordValues); the walk goes on below for
    // the fields rules name.
    if (!gather) keyword_roots_.emplace_back(value, depth);
    keywords = true;
  }
  simdjson::dom::object obj;
  if (value.get_object().get(obj) != simdjson::SUCCESS) return;
  const bool gathering = keywords && gather;
  std::uint32_t position = 0;
  for (auto field : obj) {
    bool visited = false;
    bool walked = false;  // field.value walked, its keyword values gathered on the way
    auto visit = [&](std::uint32_t child_id) {
      const EventLayout::Node& c = layout.nodes_[child_id];
      if (!c.slots.empty()) assign(c, field.value, layout.map_.text_key);
      if (!c.children.empty() || c.wildcard >= 0 || c.keywords) {
        if (field.value.type() == simdjson::dom::element_type::OBJECT) {
          walk(layout, child_id, field.value, keywords, gather, depth + 1);
          walked = true;
        } else if (c.keywords && !keywords) {
          if (gather) {
            collectKeywords(field.value, depth + 1);
            walked = true;
          } else {
            keyword_roots_.emplace_back(field.value, depth + 1);
          }
        }
      }
      visited = true;
    };
    if (!node.table.empty()) {
      const std::int32_t c = findChild(layout, node_id, position, field.key);
      if (c >= 0) visit(static_cast<std::uint32_t>(c));
    }
    if (node.wildcard >= 0 && !visited) visit(static_cast<std::uint32_t>(node.wildcard));
    if (gathering && !walked) collectKeywords(field.value, depth + 1);
    ++position;
  }
}

void EventFields::extract(const EventLayout& layout, simdjson::dom::element root,
                          bool keywords) {
  reset();
  if (memo_layout_ != &layout) {
    memo_layout_ = &layout;
    memo_ = nullptr;
    for (auto& [l, memo] : memos_) {
      if (l == &layout) memo_ = &memo;
    }
    if (!memo_) {
      memos_.emplace_back(&layout, Memo(layout.nodes_.size()));
      memo_ = &memos_.back().second;
    }
  }
  walk(layout, 0, root, false, keywords, 0);
  keywords_collected_ = keywords;
}

void EventFields::collectKeywordValues() {
  if (keywords_collected_) return;
  keywords_collected_ = true;
  for (const auto& [root, depth] : keyword_roots_) collectKeywords(root, depth);
}

}  // namespace td::detect
