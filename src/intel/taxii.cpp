#include "intel/taxii.h"

#include <cctype>

#include <nlohmann/json.hpp>

namespace td::intel {
namespace {

using core::ErrorCode;
using core::fail;
using Json = nlohmann::json;

constexpr int kMaxDepth = 128;

std::string percentEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

core::Result<TaxiiEnvelope> parseTaxiiEnvelope(std::string_view text) {
  Json doc;
  // Depth-limited: a crafted envelope of nested arrays must not exhaust the stack.
  int depth = 0;
  bool too_deep = false;
  Json::parser_callback_t limit = [&](int d, Json::parse_event_t event, Json&) {
    if (event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) {
      if (d > kMaxDepth) too_deep = true;
    }
    depth = d;
    return !too_deep;
  };
  try {
    doc = Json::parse(text.begin(), text.end(), limit);
  } catch (const Json::exception& e) {
    if (too_deep)
      return fail(ErrorCode::kInvalidArgument,
                  "TAXII envelope nests deeper than " + std::to_string(kMaxDepth) + " levels",
                  "envelope");
    return fail(ErrorCode::kInvalidArgument, std::string("TAXII envelope is not JSON: ") + e.what(),
                "envelope");
  }
  if (too_deep)
    return fail(ErrorCode::kInvalidArgument,
                "TAXII envelope nests deeper than " + std::to_string(kMaxDepth) + " levels",
                "envelope");
  if (!doc.is_object())
    return fail(ErrorCode::kInvalidArgument, "TAXII envelope is not a JSON object", "envelope");
  TaxiiEnvelope env;
  if (auto it = doc.find("more"); it != doc.end() && !it->is_null()) {
    if (!it->is_boolean())
      return fail(ErrorCode::kInvalidArgument, "\"more\" must be true or false", "envelope.more");
    env.more = it->get<bool>();
  }
  if (auto it = doc.find("next"); it != doc.end() && !it->is_null()) {
    if (!it->is_string())
      return fail(ErrorCode::kInvalidArgument, "\"next\" must be a string", "envelope.next");
    env.next = it->get<std::string>();
  }
  if (auto it = doc.find("objects"); it != doc.end() && !it->is_null()) {
    if (!it->is_array())
      return fail(ErrorCode::kInvalidArgument, "\"objects\" must be an array", "envelope.objects");
    env.objects.reserve(it->size());
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& o = (*it)[i];
      if (!o.is_object())
        return fail(ErrorCode::kInvalidArgument, "object is not a JSON object",
                    "envelope.objects[" + std::to_string(i) + "]");
      env.objects.push_back(o.dump(-1, ' ', false, Json::error_handler_t::replace));
    }
  }
  return env;
}

std::string taxiiObjectsUrl(std::string_view collection_url, std::string_view added_after,
                            std::string_view next, int limit) {
  std::string url(collection_url);
  if (url.empty() || url.back() != '/') url += '/';
  url += "objects/";
  char sep = '?';
  auto add = [&](std::string_view key, std::string_view value) {
    url += sep;
    sep = '&';
    url += key;
    url += '=';
    url += percentEncode(value);
  };
  if (!added_after.empty()) add("added_after", added_after);
  if (!next.empty()) add("next", next);
  if (limit > 0) add("limit", std::to_string(limit));
  return url;
}

std::string stixBundleOf(const std::vector<std::string>& objects) {
  size_t n = 64;
  for (const auto& o : objects) n += o.size() + 1;
  std::string out;
  out.reserve(n);
  out += R"({"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[)";
  for (size_t i = 0; i < objects.size(); ++i) {
    if (i) out += ',';
    out += objects[i];
  }
  out += "]}";
  return out;
}

std::string taxiiErrorText(std::string_view body) {
  Json doc = Json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_object() && doc.contains("title") && doc["title"].is_string()) {
    std::string out = doc["title"].get<std::string>();
    if (doc.contains("description") && doc["description"].is_string())
      out += ": " + doc["description"].get<std::string>();
    return out.substr(0, 500);
  }
  std::string out(body.substr(0, 200));
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

}  // namespace td::intel
