#include "intel/index.h"

#include <algorithm>
#include <limits>

#include "intel/warninglist.h"

namespace td::intel {
namespace {

std::uint32_t toSeconds(core::TimeMs t) {
  if (t <= 0) return 0;
  auto s = t / 1000;
  if (s > std::numeric_limits<std::uint32_t>::max()) return std::numeric_limits<std::uint32_t>::max();
  return static_cast<std::uint32_t>(s == 0 ? 1 : s);
}
core::TimeMs fromSeconds(std::uint32_t s) { return static_cast<core::TimeMs>(s) * 1000; }

core::TimeMs minKnown(core::TimeMs a, core::TimeMs b) {
  if (a == 0) return b;
  if (b == 0) return a;
  return std::min(a, b);
}

bool isHash(IndicatorType t) {
  return t == IndicatorType::kMd5 || t == IndicatorType::kSha1 || t == IndicatorType::kSha256 ||
         t == IndicatorType::kSha512;
}

std::uint64_t draftHash(IndicatorType type, std::string_view value) {
  return mix64(std::hash<std::string_view>{}(value) ^
               (static_cast<std::uint64_t>(type) * 0x9e3779b97f4a7c15ULL));
}

template <typename T>
size_t vecBytes(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
}

// Whether the batch's draft `i` goes into an index at `now`: not when its validity has ended
// (counted expired) nor when a warninglist names it (counted suppressed, with the list). The
// one rule for IndexBuilder::add and countImport.
bool admit(const FeedBatch& batch, size_t i, const BuildOptions& options, core::TimeMs now,
           ImportReport& report) {
  const IndicatorDraft& d = batch.indicators[i];
  if (d.valid_until != 0 && d.valid_until < now) {
    ++report.expired;
    return false;
  }
  if (options.warninglists != nullptr && d.type != IndicatorType::kCompound) {
    if (auto list = options.warninglists->match(d.type, d.value)) {
      std::string where =
          i < batch.where.size() ? batch.where[i] : "indicator " + std::to_string(i);
      report.suppress(std::move(where), d.value, "on warninglist \"" + *list + "\"");
      return false;
    }
  }
  return true;
}

}  // namespace

std::uint64_t hashString(std::string_view s) {
  return mix64(std::hash<std::string_view>{}(s));
}

void ImportReport::reject(std::string where, std::string value, std::string reason) {
  ++rejected;
  if (rejections.size() < kMaxItems)
    rejections.push_back({std::move(where), std::move(value), std::move(reason)});
}

void ImportReport::suppress(std::string where, std::string value, std::string reason) {
  ++suppressed;
  if (suppressions.size() < kMaxItems)
    suppressions.push_back({std::move(where), std::move(value), std::move(reason)});
}

// ---- Index ----------------------------------------------------------------------------------

std::string Index::value(IndicatorId id) const {
  const Record& r = records_[id];
  switch (static_cast<IndicatorType>(r.type)) {
    case IndicatorType::kIpv4: return formatIpv4(r.value_ref);
    case IndicatorType::kMd5: return encodeHex(md5_.key(r.value_ref).bytes.data(), 16);
    case IndicatorType::kSha1: return encodeHex(sha1_.key(r.value_ref).bytes.data(), 20);
    case IndicatorType::kSha256: return encodeHex(sha256_.key(r.value_ref).bytes.data(), 32);
    case IndicatorType::kSha512: return encodeHex(sha512_.key(r.value_ref).bytes.data(), 64);
    default: return std::string(arena(r.value_ref, r.value_len));
  }
}

int Index::confidence(IndicatorId id) const {
  const Record& r = records_[id];
  int best = -1;
  for (std::uint32_t i = r.source_begin; i < r.source_begin + r.source_count; ++i) {
    const Source& s = sources_[i];
    int c = s.confidence >= 0 ? s.confidence : feeds_[s.feed].default_confidence;
    best = std::max(best, c);
  }
  return best;
}

bool Index::activeAt(IndicatorId id, core::TimeMs now) const {
  const Record& r = records_[id];
  if (r.valid_from != 0 && now < fromSeconds(r.valid_from)) return false;
  if (r.valid_until != 0 && now > fromSeconds(r.valid_until)) return false;
  return true;
}

std::uint32_t Index::atomCount(IndicatorId id) const { return records_[id].atom_count; }

Index::View Index::view(IndicatorId id) const {
  const Record& r = records_[id];
  View v;
  v.id = id;
  v.type = static_cast<IndicatorType>(r.type);
  v.value = value(id);
  v.first_seen = fromSeconds(r.first_seen);
  v.last_seen = fromSeconds(r.last_seen);
  v.valid_from = fromSeconds(r.valid_from);
  v.valid_until = fromSeconds(r.valid_until);
  for (std::uint32_t i = r.source_begin; i < r.source_begin + r.source_count; ++i) {
    const Source& s = sources_[i];
    v.sources.push_back(SourceView{feeds_[s.feed].name, arena(s.external_off, s.external_len),
                                   s.confidence, &contexts_[s.context]});
  }
  v.confidence = confidence(id);
  return v;
}

std::optional<IndicatorId> Index::findExact(IndicatorType type, std::string_view canonical) const {
  std::optional<IndicatorId> found;
  auto take = [&](std::uint32_t t) {
    if (!(t & kAtomBit) && records_[t].type == static_cast<std::uint8_t>(type)) found = t;
  };
  switch (type) {
    case IndicatorType::kIpv4:
      if (auto ip = parseIpv4(canonical)) ipv4_.find(*ip, take);
      break;
    case IndicatorType::kIpv6:
      if (auto ip = parseIpv6(canonical)) ipv6_.find(Ipv6Key{*ip}, take);
      break;
    case IndicatorType::kMd5:
    case IndicatorType::kSha1:
    case IndicatorType::kSha256:
    case IndicatorType::kSha512: findHash(canonical, take); break;
    case IndicatorType::kDomain:
    case IndicatorType::kUrl:
    case IndicatorType::kEmail:
    case IndicatorType::kFileName: findString(type, canonical, take); break;
    default:
      for (IndicatorId i = 0; i < records_.size(); ++i)
        if (records_[i].type == static_cast<std::uint8_t>(type) &&
            arena(records_[i].value_ref, records_[i].value_len) == canonical)
          return i;
  }
  return found;
}

size_t Index::memoryBytes() const {
  size_t n = vecBytes(records_) + vecBytes(sources_) + vecBytes(atoms_) + arena_.capacity() +
             ipv4_.bytes() + ipv6_.bytes() + domains_.bytes() + urls_.bytes() + emails_.bytes() +
             file_names_.bytes() + md5_.bytes() + sha1_.bytes() + sha256_.bytes() + sha512_.bytes();
  for (const auto& t : cidr4_) n += t.bytes();
  for (const auto& [len, t] : cidr6_) n += t.bytes();
  for (const auto& f : feeds_) n += sizeof f + f.name.capacity();
  for (const auto& c : contexts_) {
    n += sizeof c + c.name.capacity() + c.actor.capacity() + c.malware.capacity() +
         c.report.capacity();
    for (const auto& s : c.attack_ids) n += sizeof s + s.capacity();
    for (const auto& s : c.labels) n += sizeof s + s.capacity();
  }
  return n;
}

// ---- IndexBuilder ---------------------------------------------------------------------------

IndexBuilder::IndexBuilder(const Index& base) {
  feeds_ = base.feeds_;
  contexts_ = base.contexts_;
  for (std::uint32_t i = 0; i < contexts_.size(); ++i) {
    const Context& c = contexts_[i];
    std::string key = c.name + '\x1f' + c.actor + '\x1f' + c.malware + '\x1f' + c.report;
    for (const auto& a : c.attack_ids) key += '\x1e' + a;
    key += '\x1f';
    for (const auto& l : c.labels) key += '\x1e' + l;
    context_ids_.emplace(std::move(key), i);
  }
  drafts_.reserve(base.size());
  reserveSlots(base.size());
  // A compound's atoms are contiguous in atoms_ (build() appends them in indicator order).
  std::vector<std::uint32_t> first_atom;
  if (!base.atoms_.empty()) {
    first_atom.assign(base.size(), std::numeric_limits<std::uint32_t>::max());
    for (std::uint32_t a = static_cast<std::uint32_t>(base.atoms_.size()); a-- > 0;)
      first_atom[base.atoms_[a].compound] = a;
  }
  for (IndicatorId id = 0; id < base.size(); ++id) {
    const Index::Record& r = base.records_[id];
    Merged m;
    m.base.type = static_cast<IndicatorType>(r.type);
    m.base.value = base.value(id);
    m.base.first_seen = fromSeconds(r.first_seen);
    m.base.last_seen = fromSeconds(r.last_seen);
    m.base.valid_from = fromSeconds(r.valid_from);
    m.base.valid_until = fromSeconds(r.valid_until);
    if (r.atom_count > 0 && !first_atom.empty() &&
        first_atom[id] != std::numeric_limits<std::uint32_t>::max()) {
      for (std::uint32_t ai = first_atom[id];
           ai < base.atoms_.size() && base.atoms_[ai].compound == id; ++ai) {
        const auto& a = base.atoms_[ai];
        Atom atom;
        atom.type = a.type;
        atom.value = std::string(base.arena(a.value_off, a.value_len));
        m.base.atoms.push_back(std::move(atom));
      }
    }
    for (std::uint32_t i = r.source_begin; i < r.source_begin + r.source_count; ++i) {
      const Index::Source& s = base.sources_[i];
      m.sources.push_back({s.feed, std::string(base.arena(s.external_off, s.external_len)),
                           s.confidence, s.context});
    }
    std::uint64_t& slot = slotFor(m.base.type, m.base.value);
    drafts_.push_back(std::move(m));
    if (slot == 0) slot = newSlot();
  }
}

void IndexBuilder::reserveSlots(size_t drafts) {
  size_t cap = 16;
  while (cap < (drafts + 1) * 2) cap <<= 1;
  if (cap <= slots_.size()) return;
  constexpr std::uint64_t kTag = 0xffffffff00000000ULL;
  std::vector<std::uint64_t> fresh(cap, 0);
  const size_t mask = cap - 1;
  for (std::uint32_t d = 0; d < drafts_.size(); ++d) {
    const std::uint64_t h = draftHash(drafts_[d].base.type, drafts_[d].base.value);
    size_t i = h & mask;
    while (fresh[i] != 0) i = (i + 1) & mask;
    fresh[i] = (h & kTag) | (d + 1);
  }
  slots_.swap(fresh);
}

std::uint64_t& IndexBuilder::slotFor(IndicatorType type, std::string_view value) {
  constexpr std::uint64_t kTag = 0xffffffff00000000ULL;
  if ((drafts_.size() + 1) * 2 > slots_.size()) reserveSlots(std::max<size_t>(drafts_.size() * 2, 8));
  const size_t mask = slots_.size() - 1;
  const std::uint64_t h = draftHash(type, value);
  last_tag_ = h & kTag;
  size_t i = h & mask;
  while (true) {
    std::uint64_t& s = slots_[i];
    if (s == 0) return s;
    if ((s & kTag) == last_tag_) {
      const IndicatorDraft& b = drafts_[draftOf(s)].base;
      if (b.type == type && b.value == value) return s;
    }
    i = (i + 1) & mask;
  }
}

std::uint16_t IndexBuilder::feedId(const FeedInfo& feed) {
  for (std::uint16_t i = 0; i < feeds_.size(); ++i)
    if (feeds_[i].name == feed.name) {
      feeds_[i].default_confidence = feed.default_confidence;
      return i;
    }
  feeds_.push_back(feed);
  return static_cast<std::uint16_t>(feeds_.size() - 1);
}

std::uint32_t IndexBuilder::contextId(const Context& c) {
  if (last_context_ < contexts_.size() && contexts_[last_context_] == c) return last_context_;
  std::string key = c.name + '\x1f' + c.actor + '\x1f' + c.malware + '\x1f' + c.report;
  for (const auto& a : c.attack_ids) key += '\x1e' + a;
  key += '\x1f';
  for (const auto& l : c.labels) key += '\x1e' + l;
  auto [it, inserted] = context_ids_.emplace(std::move(key), static_cast<std::uint32_t>(contexts_.size()));
  if (inserted) contexts_.push_back(c);
  last_context_ = it->second;
  return it->second;
}

ImportReport IndexBuilder::add(FeedBatch batch, const BuildOptions& options, bool replace_feed,
                                 const std::function<void(const IndicatorDraft&)>& accepted) {
  ImportReport report = std::move(batch.report);
  report.feed = batch.feed.name;
  const core::TimeMs now = options.now != 0 ? options.now : core::nowMs();
  if (feeds_.size() >= 0xffff) {
    report.warnings.push_back("too many feeds (65535); feed not added");
    return report;
  }
  const std::uint16_t feed = feedId(batch.feed);
  if (replace_feed) {
    for (auto& m : drafts_)
      std::erase_if(m.sources, [&](const Merged::Src& s) { return s.feed == feed; });
  }
  const size_t need = drafts_.size() + batch.indicators.size();
  reserveSlots(need);
  if (need > drafts_.capacity()) drafts_.reserve(std::max(need, drafts_.capacity() * 2));
  for (size_t i = 0; i < batch.indicators.size(); ++i) {
    if (!admit(batch, i, options, now, report)) continue;
    IndicatorDraft& d = batch.indicators[i];
    if (accepted) accepted(d);
    std::uint32_t ctx = contextId(d.context);
    Merged::Src src{feed, std::move(d.external_id), std::clamp(d.confidence, -1, 100), ctx};
    std::uint64_t& slot = slotFor(d.type, d.value);
    if (slot == 0) {
      ++report.added;
      Merged m;
      m.base = std::move(d);
      m.base.context = {};
      m.base.external_id.clear();
      m.sources.push_back(std::move(src));
      drafts_.push_back(std::move(m));
      slot = newSlot();
      continue;
    }
    ++report.updated;
    Merged& m = drafts_[draftOf(slot)];
    if (m.sources.empty()) {
      m.base.first_seen = d.first_seen;
      m.base.last_seen = d.last_seen;
      m.base.valid_from = d.valid_from;
      m.base.valid_until = d.valid_until;
    } else {
      m.base.first_seen = minKnown(m.base.first_seen, d.first_seen);
      m.base.last_seen = std::max(m.base.last_seen, d.last_seen);
      m.base.valid_from = minKnown(m.base.valid_from, d.valid_from);
      m.base.valid_until = (m.base.valid_until == 0 || d.valid_until == 0)
                               ? 0
                               : std::max(m.base.valid_until, d.valid_until);
    }
    auto same = std::find_if(m.sources.begin(), m.sources.end(),
                             [&](const Merged::Src& s) { return s.feed == feed; });
    if (same == m.sources.end()) {
      m.sources.push_back(std::move(src));
    } else {
      // The same value twice in one feed: one source, the highest confidence.
      same->confidence = std::max(same->confidence, src.confidence);
      if (same->external_id.empty()) same->external_id = std::move(src.external_id);
    }
  }
  // Indicators of every feed whose validity ended since the last build leave now.
  for (auto& m : drafts_) {
    if (!m.sources.empty() && m.base.valid_until != 0 && m.base.valid_until < now) {
      report.expired += 1;
      m.sources.clear();
    }
  }
  return report;
}

// ---- KeySet, countImport ---------------------------------------------------------------------

void KeySet::reserve(size_t keys, size_t bytes) {
  ends_.reserve(keys);
  arena_.reserve(bytes);
  size_t cap = 16;
  while (cap < (keys + 1) * 2) cap <<= 1;
  if (cap > slots_.size()) rehash(cap);
}

void KeySet::rehash(size_t cap) {
  std::vector<std::uint64_t> fresh(cap, 0);
  const size_t mask = cap - 1;
  for (std::uint32_t k = 0; k < ends_.size(); ++k) {
    const std::string_view key = keyAt(k);
    const std::uint64_t h =
        draftHash(static_cast<IndicatorType>(key[0]), key.substr(1));
    size_t i = h & mask;
    while (fresh[i] != 0) i = (i + 1) & mask;
    fresh[i] = (h & kTag) | (k + 1);
  }
  slots_.swap(fresh);
}

std::string_view KeySet::keyAt(std::uint32_t k) const {
  const size_t begin = k == 0 ? 0 : ends_[k - 1];
  return std::string_view(arena_.data() + begin, ends_[k] - begin);
}

const void* KeySet::slotAddress(IndicatorType type, std::string_view value) const {
  if (slots_.empty()) return nullptr;
  return &slots_[draftHash(type, value) & (slots_.size() - 1)];
}

bool KeySet::insert(IndicatorType type, std::string_view value) {
  if ((ends_.size() + 1) * 2 > slots_.size()) rehash(std::max<size_t>(slots_.size() * 2, 16));
  const size_t mask = slots_.size() - 1;
  const std::uint64_t h = draftHash(type, value);
  const char t = static_cast<char>(type);
  size_t i = h & mask;
  while (std::uint64_t s = slots_[i]) {
    if ((s & kTag) == (h & kTag)) {
      const std::string_view key = keyAt(static_cast<std::uint32_t>(s) - 1);
      if (key[0] == t && key.substr(1) == value) return false;
    }
    i = (i + 1) & mask;
  }
  arena_.push_back(t);
  arena_.append(value);
  ends_.push_back(arena_.size());
  slots_[i] = (h & kTag) | ends_.size();
  return true;
}

ImportReport countImport(FeedBatch batch, const BuildOptions& options, KeySet& known,
                         const std::function<void(IndicatorDraft&)>& accepted) {
  ImportReport report = std::move(batch.report);
  report.feed = batch.feed.name;
  const core::TimeMs now = options.now != 0 ? options.now : core::nowMs();
  constexpr size_t kAhead = 8;  // a million keys are far apart in memory: load them early
  for (size_t i = 0; i < batch.indicators.size(); ++i) {
    if (i + kAhead < batch.indicators.size()) {
      const IndicatorDraft& next = batch.indicators[i + kAhead];
      __builtin_prefetch(known.slotAddress(next.type, next.value));
    }
    if (!admit(batch, i, options, now, report)) continue;
    IndicatorDraft& d = batch.indicators[i];
    if (known.insert(d.type, d.value)) {
      ++report.added;
    } else {
      ++report.updated;
    }
    if (accepted) accepted(d);
  }
  return report;
}

std::shared_ptr<const Index> IndexBuilder::build() const {
  auto index = std::make_shared<Index>();
  Index& ix = *index;
  ix.feeds_ = feeds_;
  ix.contexts_ = contexts_;
  if (ix.contexts_.empty()) ix.contexts_.emplace_back();
  size_t live = 0, sources = 0;
  for (const auto& m : drafts_)
    if (!m.sources.empty()) {
      ++live;
      sources += m.sources.size();
    }
  ix.records_.reserve(live);
  ix.sources_.reserve(sources);

  auto addString = [&](std::string_view s) {
    auto off = static_cast<std::uint32_t>(ix.arena_.size());
    ix.arena_.append(s);
    return off;
  };
  // Inserts one value into its table; returns the table entry (hashes) or 0.
  auto insert = [&](IndicatorType type, std::string_view value, std::uint32_t target,
                    std::uint32_t* ref) {
    switch (type) {
      case IndicatorType::kIpv4: {
        auto ip = parseIpv4(value).value_or(0);
        ix.ipv4_.add(ip, target);
        *ref = ip;
        return;
      }
      case IndicatorType::kIpv6:
        ix.ipv6_.add(Ipv6Key{parseIpv6(value).value_or(std::array<std::uint8_t, 16>{})}, target);
        return;
      case IndicatorType::kCidr4: {
        auto slash = value.find('/');
        int len = std::atoi(std::string(value.substr(slash + 1)).c_str());
        auto ip = parseIpv4(value.substr(0, slash)).value_or(0);
        if (len < 0 || len > 32) return;
        ix.cidr4_[len].add(ip, target);
        ix.cidr4_lengths_ |= std::uint64_t{1} << len;
        return;
      }
      case IndicatorType::kCidr6: {
        auto slash = value.find('/');
        int len = std::atoi(std::string(value.substr(slash + 1)).c_str());
        auto ip = parseIpv6(value.substr(0, slash)).value_or(std::array<std::uint8_t, 16>{});
        auto it = std::find_if(ix.cidr6_.begin(), ix.cidr6_.end(),
                               [&](const auto& p) { return p.first == len; });
        if (it == ix.cidr6_.end()) {
          ix.cidr6_.emplace_back(len, KeyTable<Ipv6Key>{});
          it = ix.cidr6_.end() - 1;
        }
        it->second.add(Ipv6Key{ip}, target);
        return;
      }
      case IndicatorType::kDomain: ix.domains_.add(hashString(value), target); return;
      case IndicatorType::kUrl: ix.urls_.add(hashString(value), target); return;
      case IndicatorType::kEmail: ix.emails_.add(hashString(value), target); return;
      case IndicatorType::kFileName: ix.file_names_.add(hashString(value), target); return;
      case IndicatorType::kMd5: {
        HashKey<16> k;
        decodeHex(value, k.bytes.data(), 16);
        *ref = ix.md5_.add(k, target);
        return;
      }
      case IndicatorType::kSha1: {
        HashKey<20> k;
        decodeHex(value, k.bytes.data(), 20);
        *ref = ix.sha1_.add(k, target);
        return;
      }
      case IndicatorType::kSha256: {
        HashKey<32> k;
        decodeHex(value, k.bytes.data(), 32);
        *ref = ix.sha256_.add(k, target);
        return;
      }
      case IndicatorType::kSha512: {
        HashKey<64> k;
        decodeHex(value, k.bytes.data(), 64);
        *ref = ix.sha512_.add(k, target);
        return;
      }
      case IndicatorType::kCompound: return;
    }
  };

  for (const auto& m : drafts_) {
    if (m.sources.empty()) continue;
    auto id = static_cast<IndicatorId>(ix.records_.size());
    Index::Record r;
    r.type = static_cast<std::uint8_t>(m.base.type);
    r.first_seen = toSeconds(m.base.first_seen);
    r.last_seen = toSeconds(m.base.last_seen);
    r.valid_from = toSeconds(m.base.valid_from);
    r.valid_until = toSeconds(m.base.valid_until);
    r.source_begin = static_cast<std::uint32_t>(ix.sources_.size());
    r.source_count = static_cast<std::uint16_t>(std::min<size_t>(m.sources.size(), 0xffff));
    for (size_t i = 0; i < r.source_count; ++i) {
      const auto& s = m.sources[i];
      Index::Source src;
      src.feed = s.feed;
      src.confidence = static_cast<std::int8_t>(s.confidence);
      src.context = s.context;
      std::string_view ext = std::string_view(s.external_id).substr(0, 0xffff);
      src.external_off = addString(ext);
      src.external_len = static_cast<std::uint16_t>(ext.size());
      ix.sources_.push_back(src);
    }
    if (m.base.type == IndicatorType::kCompound) {
      r.value_ref = addString(m.base.value);
      r.value_len = static_cast<std::uint32_t>(m.base.value.size());
      r.atom_count = static_cast<std::uint8_t>(std::min(m.base.atoms.size(), kMaxAtoms));
      for (std::uint8_t a = 0; a < r.atom_count; ++a) {
        const Atom& atom = m.base.atoms[a];
        Index::AtomRef ref{id, addString(atom.value),
                           static_cast<std::uint16_t>(std::min<size_t>(atom.value.size(), 0xffff)),
                           a, atom.type};
        auto target = static_cast<std::uint32_t>(ix.atoms_.size()) | Index::kAtomBit;
        ix.atoms_.push_back(ref);
        std::uint32_t unused = 0;
        insert(atom.type, atom.value, target, &unused);
      }
    } else {
      if (!isHash(m.base.type) && m.base.type != IndicatorType::kIpv4) {
        r.value_ref = addString(m.base.value);
        r.value_len = static_cast<std::uint32_t>(m.base.value.size());
      }
      insert(m.base.type, m.base.value, id, &r.value_ref);
    }
    ix.records_.push_back(r);
  }
  std::sort(ix.cidr6_.begin(), ix.cidr6_.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  ix.ipv4_.seal();
  ix.ipv6_.seal();
  for (auto& t : ix.cidr4_) t.seal();
  for (auto& [len, t] : ix.cidr6_) t.seal();
  ix.domains_.seal();
  ix.urls_.seal();
  ix.emails_.seal();
  ix.file_names_.seal();
  ix.md5_.seal();
  ix.sha1_.seal();
  ix.sha256_.seal();
  ix.sha512_.seal();
  ix.arena_.shrink_to_fit();
  return index;
}

}  // namespace td::intel
