// Event field access. An EventLayout is a field map compiled for the Sigma fields an engine
// needs: a small trie of the JSON keys to visit, so that extracting an event's fields walks only
// the parts of the event that some rule reads. EventFields holds one event's extracted values.
//
// Thread safety: an EventLayout is immutable after construction and may be shared by threads.
// EventFields is per-thread scratch (one per worker); its values point into the simdjson
// parser's buffers and are valid until that parser parses the next event.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "detect/field_map.h"

namespace td::detect {

enum class ValueKind : std::uint8_t { kString, kNumber, kBool, kNull, kObject };

struct FieldValue {
  std::string_view text;  // numbers and booleans as text: 4688, 1.5, true
  ValueKind kind = ValueKind::kString;
};

// Internal Sigma field names the engine uses for the event's time (never valid in a rule).
inline constexpr std::string_view kTimestampField = "\x01timestamp";

// Field-name hashing and equality that ignore ASCII case and spaces: Sigma field names match
// event keys without regard to case (as SQL-based peers such as Zircolite do), and Windows
// Defender's "Threat Name" is Sigma's ThreatName (as SigmaHQ's own tooling normalises it).
struct CaseInsensitiveHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept;
};
struct CaseInsensitiveEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept;
};

class EventLayout {
 public:
  // `fields[i]` is the Sigma field of slot i. `want_keywords` makes extraction collect the
  // values keyword searches look at.
  EventLayout(FieldMap map, const std::vector<std::string>& fields, bool want_keywords);

  const FieldMap& map() const { return map_; }
  // Whether the map fits the event (any of its shape paths exists; an empty shape always fits).
  bool fits(simdjson::dom::element root) const;

 private:
  friend class EventFields;
  struct Node {
    std::unordered_map<std::string, std::uint32_t, CaseInsensitiveHash, CaseInsensitiveEq> children;
    std::int32_t wildcard = -1;
    std::vector<std::pair<std::uint32_t, std::uint16_t>> slots;  // (slot, rank: lower wins)
    bool keywords = false;                                       // collect every scalar below
    // `children` as an open-addressing table for the per-event lookups (see find()).
    struct Entry {
      std::uint64_t hash = 0;
      std::int32_t child = -1;
      std::uint32_t key = 0;  // index into keys: the key lower-cased, without spaces
      std::uint32_t len = 0;  // its length
      char text[40] = {};     // the same inline (zero-padded) when at most 32 bytes
    };
    std::vector<Entry> table;
    std::vector<std::string> keys;
    std::uint64_t mask = 0;
  };
  // The child of `node` for an event key, or -1.
  std::int32_t find(const Node& node, std::string_view key) const;
  void buildTables();
  std::uint32_t child(std::uint32_t node, const std::string& key);
  void insert(const FieldPath& path, size_t from, std::uint32_t slot, std::uint16_t rank);

  FieldMap map_;
  std::vector<Node> nodes_;
};

class EventFields {
 public:
  explicit EventFields(size_t slot_count);
  EventFields(const EventFields&) = delete;
  EventFields& operator=(const EventFields&) = delete;

  // Extracts the fields of one event. Never throws; malformed parts are skipped. With
  // `keywords`, the values keyword searches look at are gathered in the same pass; without,
  // only where they are is noted, and collectKeywordValues() gathers them when some rule needs
  // them (the caller guesses which is cheaper: the result is the same).
  void extract(const EventLayout& layout, simdjson::dom::element root, bool keywords = true);
  void collectKeywordValues();

  std::span<const FieldValue> values(std::uint32_t slot) const {
    return slot < slots_.size() ? std::span<const FieldValue>(slots_[slot].values)
                                : std::span<const FieldValue>();
  }
  bool present(std::uint32_t slot) const {
    return slot < slots_.size() && !slots_[slot].values.empty();
  }
  // The first value's text, or "" when absent.
  std::string_view text(std::uint32_t slot) const {
    return present(slot) ? slots_[slot].values.front().text : std::string_view();
  }
  const std::vector<std::string_view>& keywordValues() const { return keywords_; }
  // The slots that have values in this event (each once), so callers need not visit every slot.
  const std::vector<std::uint32_t>& presentSlots() const { return touched_; }

 private:
  struct Slot {
    std::vector<FieldValue> values;
    std::uint16_t rank = UINT16_MAX;
  };
  void reset();
  // `gather`: keyword values are gathered in this pass; `keywords`: `value` is inside a
  // keyword subtree.
  void walk(const EventLayout& layout, std::uint32_t node, simdjson::dom::element value,
            bool keywords, bool gather, int depth);
  // layout.find(), answered from the key seen at the same position of the same node in earlier
  // events when it is the same text (events of one kind repeat their keys in one order).
  std::int32_t findChild(const EventLayout& layout, std::uint32_t node, std::uint32_t position,
                         std::string_view key);
  void assign(const EventLayout::Node& node, simdjson::dom::element value,
              const std::string& text_key);
  void put(std::uint32_t slot, std::uint16_t rank, FieldValue v);
  void collectKeywords(simdjson::dom::element value, int depth);
  bool scalar(simdjson::dom::element value, FieldValue& out);
  std::string_view store(std::string_view s);

  std::vector<Slot> slots_;
  std::vector<std::uint32_t> touched_;
  std::vector<std::string_view> keywords_;
  std::vector<std::pair<simdjson::dom::element, int>> keyword_roots_;  // where, and depth
  // Keys seen per layout node and position within its object, and the child found for them.
  // A key of at most kMemoKeyBytes as words: `a` its first 8 bytes (all of a shorter key,
  // zero-extended), `b` its last 8 (keys of 8 or more), `c` bytes 8-15 (keys over 16).
  struct KeyMemo {
    std::uint32_t len = UINT32_MAX;
    std::int32_t child = -1;
    std::uint64_t a = 0, b = 0, c = 0;
  };
  static constexpr size_t kMemoKeyBytes = 24;
  using Memo = std::vector<std::vector<KeyMemo>>;  // per layout node
  std::vector<std::pair<const EventLayout*, Memo>> memos_;  // per layout seen
  const EventLayout* memo_layout_ = nullptr;  // the current event's layout
  Memo* memo_ = nullptr;                      // its memo
  bool keywords_collected_ = false;
  // Text of numbers: fixed-size chunks so that views into them stay valid while more are added.
  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t chunk_used_ = 0;
  size_t chunk_index_ = 0;
};

}  // namespace td::detect
