#include "detect/ingest.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "detect/correlation.h"

namespace td::detect {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kBatchBytes = 1 << 20;
constexpr size_t kMaxBadLines = 100;
constexpr size_t kMaxLineBytes = 64 << 20;

// A run of whole lines, parsed in place without a copy: either read into the batch's own buffer
// or lying in a file mapping. The bytes after each line, then at least simdjson padding after the
// last one, are readable.
struct Batch {
  std::unique_ptr<char[]> buf;  // default-initialised: no zero fill of a megabyte per batch
  size_t cap = 0;               // usable bytes; SIMDJSON_PADDING more are allocated
  size_t size = 0;              // bytes read into buf
  const char* base = nullptr;   // where the lines' offsets count from: buf, or into a mapping
  std::vector<std::pair<size_t, size_t>> lines;  // offset, length
  std::uint64_t first_line = 0;                  // 1-based number of lines[0]
  std::pair<const char*, size_t> mapped{nullptr, 0};  // the mapped bytes the lines lie in

  Batch() = default;
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  ~Batch() { release(); }

  const char* data() const { return base; }

  // Grows to at least `want` usable bytes, keeping the first `keep`.
  void reserve(size_t want, size_t keep) {
    if (want <= cap) return;
    auto bigger = std::unique_ptr<char[]>(new char[want + simdjson::SIMDJSON_PADDING]);
    if (keep) std::memcpy(bigger.get(), buf.get(), keep);
    buf = std::move(bigger);
    cap = want;
  }

  // Done with the mapped lines: their whole pages leave this process's resident set (they stay
  // in the page cache), so that a mapped file of any size does not count towards the peak RSS.
  // A page shared with a neighbouring batch still in use is simply faulted in again.
  void release() {
    if (!mapped.first) return;
    const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto from = reinterpret_cast<std::uintptr_t>(mapped.first) & ~(page - 1);
    const auto to = (reinterpret_cast<std::uintptr_t>(mapped.first) + mapped.second) & ~(page - 1);
    if (to > from) madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
    mapped = {nullptr, 0};
  }
};

// A regular, uncompressed input file mapped read-only. Reading it this way saves the kernel's
// copy of every byte into a buffer (a few per cent of an ingest); gzip files, pipes and stdin
// go through zlib instead.
class MappedFile {
 public:
  // Null when the file is not worth or not able to be mapped (then zlib reads it).
  static std::unique_ptr<MappedFile> open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nullptr;
    std::unique_ptr<MappedFile> out;
    struct stat sb {};
    unsigned char magic[2] = {0, 0};
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
        !(pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b)) {
      const auto size = static_cast<size_t>(sb.st_size);
      void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) {
        madvise(p, size, MADV_SEQUENTIAL);
        const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
        out.reset(
            new MappedFile(static_cast<const char*>(p), size, (size + page - 1) / page * page));
      }
    }
    ::close(fd);
    return out;
  }
  ~MappedFile() { munmap(const_cast<char*>(data_), size_); }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  // Bytes that may be read from data(): the file rounded up to whole pages (zeros past its end).
  size_t readable() const { return readable_; }

 private:
  MappedFile(const char* data, size_t size, size_t readable)
      : data_(data), size_(size), readable_(readable) {}
  const char* data_;
  size_t size_;
  size_t readable_;
};

// Reads lines from the inputs in batches: regular uncompressed files through a mapping, the rest
// (gzip, stdin, pipes) through zlib, which reads (or inflates) straight into the batch's buffer
// when asked for at least its own buffer's size; only the unfinished last line of a batch is
// carried over into the next one.
class LineReader {
 public:
  explicit LineReader(const std::vector<std::string>& inputs) : inputs_(inputs) {}
  ~LineReader() {
    if (file_) gzclose(file_);
  }

  core::Status open() {
    if (inputs_.empty()) return core::fail(core::ErrorCode::kInvalidArgument, "no input file");
    return next();
  }

  // Fills `batch` with the next lines; false at the end of all inputs. The mappings the batches
  // point into live as long as the reader.
  core::Result<bool> read(Batch& batch) {
    batch.release();
    batch.lines.clear();
    batch.first_line = line_no_ + 1;
    if (map_) return readMapped(batch);
    batch.reserve(kBatchBytes + carry_.size(), 0);
    batch.base = batch.buf.get();
    if (!carry_.empty()) std::memcpy(batch.buf.get(), carry_.data(), carry_.size());
    batch.size = carry_.size();
    carry_.clear();
    size_t scan = 0;      // where the search for the next newline resumes
    size_t head = 0;      // start of the first line not yet in batch.lines
    bool at_eof = false;  // the current input is exhausted: what is left is its last line
    while (true) {
      const char* nl = static_cast<const char*>(
          std::memchr(batch.buf.get() + scan, '\n', batch.size - scan));
      if (nl) {
        const size_t at = static_cast<size_t>(nl - batch.buf.get());
        addLine(batch, head, at);
        head = scan = at + 1;
        continue;
      }
      scan = batch.size;
      if (at_eof || !file_) break;
      if (!batch.lines.empty() && batch.cap - batch.size < kBatchBytes / 4) break;  // full
      if (batch.size - head > kMaxLineBytes) return lineTooLong();
      if (batch.cap - batch.size < kBatchBytes / 4) {
        batch.reserve(batch.cap * 2, batch.size);  // one line longer than the buffer
        batch.base = batch.buf.get();
      }
      const size_t want = std::min<size_t>(batch.cap - batch.size, 1u << 30);
      const int n = gzread(file_, batch.buf.get() + batch.size, static_cast<unsigned>(want));
      if (n < 0) {
        int err = 0;
        return core::fail(core::ErrorCode::kInvalidArgument,
                          std::string("cannot read input: ") + gzerror(file_, &err),
                          inputs_[index_]);
      }
      if (n == 0) {
        at_eof = true;
        continue;
      }
      bytes_ += static_cast<std::uint64_t>(n);
      batch.size += static_cast<size_t>(n);
    }
    if (at_eof) {
      if (batch.size > head) addLine(batch, head, batch.size);  // last line without a newline
      head = batch.size;
      gzclose(file_);
      file_ = nullptr;
      if (auto st = nextInput(); !st) return core::fail(st.error());
    }
    if (batch.size > head) carry_.assign(batch.buf.get() + head, batch.size - head);
    return !batch.lines.empty() || file_ != nullptr || map_ != nullptr || !carry_.empty();
  }

  std::uint64_t bytes() const { return bytes_; }

 private:
  // About kBatchBytes of whole lines from the mapping, in place; the file's last lines, which
  // may lack the padding simdjson reads past a line, are copied into the batch's buffer.
  core::Result<bool> readMapped(Batch& batch) {
    const char* const data = map_->data();
    const size_t size = map_->size();
    const size_t from = map_pos_;
    size_t head = from;
    while (head < size && head - from < kBatchBytes) {
      const char* nl = static_cast<const char*>(std::memchr(data + head, '\n', size - head));
      const size_t at = nl ? static_cast<size_t>(nl - data) : size;
      if (at - head > kMaxLineBytes) return lineTooLong();
      addLine(batch, data + from, head - from, at - from);
      head = nl ? at + 1 : size;
    }
    bytes_ += head - from;
    map_pos_ = head;
    if (head + simdjson::SIMDJSON_PADDING <= map_->readable()) {
      batch.base = data + from;
      batch.mapped = {data + from, head - from};
    } else {
      batch.reserve(std::max(kBatchBytes, head - from), 0);
      std::memcpy(batch.buf.get(), data + from, head - from);
      batch.base = batch.buf.get();
    }
    if (map_pos_ == size) {
      done_maps_.push_back(std::move(map_));
      if (auto st = nextInput(); !st) return core::fail(st.error());
    }
    return true;
  }

  core::Status nextInput() { return ++index_ < inputs_.size() ? next() : core::Status{}; }

  core::Result<bool> lineTooLong() const {
    return core::fail(core::ErrorCode::kTooLarge, "a line is longer than 64 MiB",
                      "line " + std::to_string(line_no_ + 1));
  }

  void addLine(Batch& batch, size_t from, size_t to) { addLine(batch, batch.buf.get(), from, to); }
  void addLine(Batch& batch, const char* base, size_t from, size_t to) {
    ++line_no_;
    size_t len = to - from;
    if (len > 0 && base[to - 1] == '\r') --len;
    batch.lines.emplace_back(from, len);
  }

  core::Status next() {
    const std::string& path = inputs_[index_];
    if (path != "-") {
      map_ = MappedFile::open(path);
      map_pos_ = 0;
      if (map_) return {};
    }
    file_ = path == "-" ? gzdopen(dup(0), "rb") : gzopen(path.c_str(), "rb");
    if (!file_) {
      return core::fail(core::ErrorCode::kNotFound, "cannot open " + path, path);
    }
    gzbuffer(file_, 1 << 18);
    return {};
  }

  const std::vector<std::string>& inputs_;
  size_t index_ = 0;
  gzFile file_ = nullptr;
  std::unique_ptr<MappedFile> map_;                     // the current input, when mapped
  size_t map_pos_ = 0;                                  // where its next batch starts
  std::vector<std::unique_ptr<MappedFile>> done_maps_;  // earlier inputs, batches may point in
  std::string carry_;  // the unfinished last line of the previous batch
  std::uint64_t line_no_ = 0;
  std::uint64_t bytes_ = 0;
};

// Copies runs of bytes that need no escape in one append (most strings have none).
void appendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  const char* p = s.data();
  const char* const end = p + s.size();
  while (p < end) {
    const char* run = p;
    while (p < end) {
      const auto c = static_cast<unsigned char>(*p);
      if (c < 0x20 || c == '"' || c == '\\') break;
      ++p;
    }
    out.append(run, static_cast<size_t>(p - run));
    if (p == end) break;
    const auto c = static_cast<unsigned char>(*p++);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(esc, sizeof esc);
      }
    }
  }
  out += '"';
}

// A batch's NDJSON lines: their own text, and the events they quote as views into the batch
// (written from where they lie, not copied: most of a detection line is its event).
struct Output {
  std::string text;
  std::vector<std::pair<size_t, std::string_view>> events;  // at text offset, the event

  void clear() {
    text.clear();
    events.clear();
  }
  bool empty() const { return text.empty() && events.empty(); }
};

// Writes all of `out` to `fd` (writev, as few calls as the iovec limit allows, partial writes
// resumed); false with errno set on an error.
bool writeOutput(int fd, const Output& out) {
  std::vector<iovec> iov;
  iov.reserve(2 * out.events.size() + 1);
  size_t at = 0;
  auto add = [&](const char* p, size_t n) {
    if (n) iov.push_back({const_cast<char*>(p), n});
  };
  for (const auto& [pos, event] : out.events) {
    add(out.text.data() + at, pos - at);
    add(event.data(), event.size());
    at = pos;
  }
  add(out.text.data() + at, out.text.size() - at);
  size_t i = 0;
  while (i < iov.size()) {
    const int count = static_cast<int>(std::min<size_t>(iov.size() - i, IOV_MAX));
    const ssize_t n = ::writev(fd, iov.data() + i, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    auto left = static_cast<size_t>(n);
    while (i < iov.size() && left >= iov[i].iov_len) left -= iov[i++].iov_len;
    if (left) {
      iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
      iov[i].iov_len -= left;
    }
  }
  return true;
}

// The work of one matcher: events in, NDJSON lines and counts out.
struct Worker {
  Worker(std::shared_ptr<const Engine> e, CorrelationEngine& c, std::mutex& cm,
         const std::vector<IngestStageFactory>& factories)
      : engine(e), matcher(e), correlations(c), correlation_mutex(cm),
        per_rule(e->ruleCount(), 0), per_stage(factories.size(), 0),
        sigma(e->ruleCount() > 0 || factories.empty()) {
    for (const auto& f : factories) stages.push_back(f());
  }

  void run(const Batch& batch, Output& output, std::vector<core::Detection>* detections,
           std::vector<BadLine>& bad) {
    std::string& out = output.text;
    for (size_t i = 0; i < batch.lines.size(); ++i) {
      const auto [off, len] = batch.lines[i];
      std::string_view line(batch.data() + off, len);
      size_t start = 0;
      while (start < line.size() && (line[start] == ' ' || line[start] == '\t')) ++start;
      if (start == line.size()) continue;  // blank lines are not events
      line.remove_prefix(start);
      ++events;
      hits.clear();
      if (!sigma) {
        runStages(line, batch.first_line + i, out, detections, bad);
        continue;
      }
      if (auto st = matcher.evaluate(line, hits, true); !st) {
        ++bad_events;
        bad.push_back({batch.first_line + i, st.error().message});
        continue;
      }
      fired.clear();
      context.clear();
      if (!hits.empty() && !engine->correlations().empty()) {
        // One set of windows for all workers, so that a group's events count together whichever
        // worker saw them.
        std::lock_guard<std::mutex> lock(correlation_mutex);
        correlations.observe(matcher, hits, fired);
      }
      for (auto r : hits) {
        const RuleInfo& info = engine->rule(r);
        ++per_rule[r];
        if (!info.generate) continue;
        ++detections_count;
        out += ruleHead(r);
        if (context.empty()) {  // the same for every rule that fired on this event
          context += ",\"host\":";
          appendJsonString(context, matcher.host());
          context += ",\"user\":";
          appendJsonString(context, matcher.user());
          context += ",\"time\":";
          const auto t = matcher.time();
          appendJsonString(context, t ? core::formatRfc3339(t) : "");
        }
        out += context;
        out += ruleTags(r);
        out += ",\"line\":";
        out += std::to_string(batch.first_line + i);
        out += ",\"event\":";
        output.events.emplace_back(out.size(), line);
        out += "}\n";
        if (detections) detections->push_back(makeDetection(matcher, r, line));
      }
      for (const auto& f : fired) {
        ++per_rule[f.rule];
        ++detections_count;
        const core::Detection d = makeCorrelationDetection(*engine, f, matcher.host());
        out += ruleHead(f.rule);
        out += ",\"host\":";
        appendJsonString(out, d.host);
        out += ",\"line\":";
        out += std::to_string(batch.first_line + i);
        out += ",\"correlation\":";
        out += d.evidence_json;
        out += ",\"event\":";
        output.events.emplace_back(out.size(), line);
        out += "}\n";
        if (detections) detections->push_back(d);
      }
      if (!stages.empty()) runStages(line, batch.first_line + i, out, detections, bad);
    }
  }

  // A rule's members of a detection line, written once per rule rather than once per detection
  // (escaping them was a visible part of writing the lines).
  const std::string& ruleHead(std::uint32_t r) {
    if (rule_json.empty()) rule_json.resize(engine->ruleCount());
    auto& json = rule_json[r];
    if (!json.first.empty()) return json.first;
    const RuleInfo& info = engine->rule(r);
    json.first = "{\"rule_id\":";
    appendJsonString(json.first, info.id);
    json.first += ",\"rule_title\":";
    appendJsonString(json.first, info.title);
    json.first += ",\"level\":";
    appendJsonString(json.first, info.level);
    json.second = ",\"tags\":[";
    for (size_t k = 0; k < info.techniques.size(); ++k) {
      if (k) json.second += ',';
      appendJsonString(json.second, info.techniques[k]);
    }
    json.second += ']';
    return json.first;
  }
  const std::string& ruleTags(std::uint32_t r) {
    ruleHead(r);
    return rule_json[r].second;
  }

  void runStages(std::string_view line, std::uint64_t line_no, std::string& out,
                 std::vector<core::Detection>* detections, std::vector<BadLine>& bad) {
    for (size_t s = 0; s < stages.size(); ++s) {
      const long n = stages[s]->event(line, true, line_no, out, detections);
      if (n > 0) per_stage[s] += static_cast<std::uint64_t>(n);
      if (n < 0 && !sigma && s == 0) {
        ++bad_events;
        bad.push_back({line_no, "not a JSON object"});
        return;
      }
    }
  }

  std::shared_ptr<const Engine> engine;
  Matcher matcher;
  CorrelationEngine& correlations;
  std::mutex& correlation_mutex;
  std::vector<std::uint64_t> per_rule;
  std::vector<std::uint64_t> per_stage;
  std::vector<std::unique_ptr<IngestStage>> stages;
  bool sigma = true;  // false: an engine without rules beside other stages, which run alone
  std::vector<std::uint32_t> hits;
  std::vector<CorrelationHit> fired;
  std::string context;  // the event's host, user and time as JSON members, once per event
  std::vector<std::pair<std::string, std::string>> rule_json;  // per rule: head, tags
  std::uint64_t events = 0, bad_events = 0, detections_count = 0;
};

}  // namespace

core::Result<IngestSummary> runOfflineIngest(std::shared_ptr<const Engine> engine,
                                             const IngestOptions& options) {
  LineReader reader(options.inputs);
  if (auto st = reader.open(); !st) return core::fail(st.error());
  int out = -1;
  bool close_out = false;
  if (options.out == "-") {
    std::fflush(stdout);  // what the process printed before goes first
    out = STDOUT_FILENO;
  } else if (!options.out.empty()) {
    out = ::open(options.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (out < 0) {
      return core::fail(core::ErrorCode::kInvalidArgument,
                        "cannot write " + options.out + ": " + std::strerror(errno), "--out");
    }
    close_out = true;
  }
  std::string write_error;  // the first failed write
  const auto start = Clock::now();
  IngestSummary summary;
  std::vector<BadLine> bad;
  std::mutex out_mutex;
  auto emit = [&](const Output& text, std::vector<core::Detection>& dets) {
    std::lock_guard<std::mutex> lock(out_mutex);
    if (out >= 0 && !text.empty() && write_error.empty() && !writeOutput(out, text)) {
      write_error = std::strerror(errno);
    }
    if (options.sink && !dets.empty()) options.sink->submit(std::move(dets));
  };
  auto last_progress = start;
  std::uint64_t progress_detections = 0, progress_events = 0;
  auto report = [&](bool force) {
    if (!options.progress) return;
    const auto now = Clock::now();
    if (!force && now - last_progress < std::chrono::milliseconds(250)) return;
    last_progress = now;
    options.progress({progress_events, reader.bytes(), progress_detections,
                      std::chrono::duration<double>(now - start).count()});
  };

  const int threads = std::max(1, options.threads);
  CorrelationEngine correlations(engine);
  std::mutex correlation_mutex;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < threads; ++i) {
    workers.push_back(
        std::make_unique<Worker>(engine, correlations, correlation_mutex, options.stages));
  }
  core::Status failure;

  if (threads == 1) {
    // One core: read and match in this thread, so the figure is honest for one core.
    Batch batch;
    Output text;
    Worker& w = *workers[0];
    while (true) {
      auto more = reader.read(batch);
      if (!more) {
        failure = core::fail(more.error());
        break;
      }
      text.clear();
      std::vector<core::Detection> dets;
      w.run(batch, text, options.sink ? &dets : nullptr, bad);
      emit(text, dets);
      progress_events = w.events;
      progress_detections = w.detections_count;
      report(false);
      if (!*more) break;
    }
  } else {
    std::mutex m;
    std::condition_variable cv_work, cv_space;
    std::deque<std::unique_ptr<Batch>> queue;
    bool done = false;
    std::vector<std::thread> pool;
    std::vector<std::vector<BadLine>> bads(static_cast<size_t>(threads));
    for (int i = 0; i < threads; ++i) {
      pool.emplace_back([&, i] {
        Output text;
        while (true) {
          std::unique_ptr<Batch> b;
          {
            std::unique_lock<std::mutex> lock(m);
            cv_work.wait(lock, [&] { return done || !queue.empty(); });
            if (queue.empty()) return;
            b = std::move(queue.front());
            queue.pop_front();
          }
          cv_space.notify_one();
          text.clear();
          std::vector<core::Detection> dets;
          workers[static_cast<size_t>(i)]->run(*b, text, options.sink ? &dets : nullptr,
                                               bads[static_cast<size_t>(i)]);
          emit(text, dets);
        }
      });
    }
    while (true) {
      auto b = std::make_unique<Batch>();
      auto more = reader.read(*b);
      if (!more) {
        failure = core::fail(more.error());
        break;
      }
      {
        std::unique_lock<std::mutex> lock(m);
        cv_space.wait(lock, [&] { return queue.size() < static_cast<size_t>(threads) * 2; });
        if (!b->lines.empty()) queue.push_back(std::move(b));
      }
      cv_work.notify_one();
      report(false);
      if (!*more) break;
    }
    {
      std::lock_guard<std::mutex> lock(m);
      done = true;
    }
    cv_work.notify_all();
    for (auto& t : pool) t.join();
    for (auto& b : bads) bad.insert(bad.end(), b.begin(), b.end());
  }
  if (close_out && ::close(out) != 0 && write_error.empty()) write_error = std::strerror(errno);
  if (!failure) return core::fail(failure.error());
  if (!write_error.empty()) {
    return core::fail(core::ErrorCode::kInvalidArgument,
                      "cannot write " +
                          (options.out == "-" ? std::string("to stdout") : options.out) + ": " +
                          write_error,
                      "--out");
  }

  summary.per_rule.assign(engine->ruleCount(), 0);
  summary.per_stage.assign(options.stages.size(), 0);
  for (const auto& w : workers) {
    for (size_t s = 0; s < w->per_stage.size(); ++s) summary.per_stage[s] += w->per_stage[s];
    summary.events += w->events;
    summary.bad_events += w->bad_events;
    summary.detections += w->detections_count;
    for (size_t r = 0; r < w->per_rule.size(); ++r) summary.per_rule[r] += w->per_rule[r];
  }
  summary.correlation_evictions = correlations.stats().evicted_groups;
  std::sort(bad.begin(), bad.end(), [](const BadLine& a, const BadLine& b) { return a.line < b.line; });
  if (bad.size() > kMaxBadLines) bad.resize(kMaxBadLines);
  summary.bad_lines = std::move(bad);
  summary.bytes = reader.bytes();
  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  progress_events = summary.events;
  progress_detections = summary.detections;
  report(true);
  return summary;
}

}  // namespace td::detect
