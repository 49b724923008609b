#include "respond/response_spec.h"

#include <algorithm>
#include <set>

#include "respond/time_zone.h"

namespace td::respond {

std::string_view presetsDocument();  // generated from presets.json (CMakeLists.txt)

namespace {

using core::ErrorCode;
using core::fail;
using core::Result;

core::Error bad(const std::string& field, const std::string& message,
                ErrorCode code = ErrorCode::kUnprocessable) {
  return core::Error{code, field + ": " + message, field};
}

Status onlyKeys(const Json& obj, const std::string& path, std::set<std::string> allowed) {
  if (!obj.is_object())
    return fail(
        bad(path.empty() ? "body" : path, "expected an object", ErrorCode::kInvalidArgument));
  for (const auto& [k, v] : obj.items())
    if (!allowed.count(k)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return fail(
          bad(path.empty() ? k : path + "." + k, "unknown member (expected one of " + list + ")"));
    }
  return {};
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

Result<std::string> str(const Json& obj, const std::string& path, const std::string& key,
                        std::string def, size_t max = 1024) {
  if (!obj.contains(key) || obj[key].is_null()) return def;
  if (!obj[key].is_string())
    return fail(bad(join(path, key), "expected a string", ErrorCode::kInvalidArgument));
  auto s = obj[key].get<std::string>();
  if (s.size() > max)
    return fail(bad(join(path, key), "longer than " + std::to_string(max) + " bytes",
                    ErrorCode::kTooLarge));
  return s;
}

Result<std::int64_t> integer(const Json& obj, const std::string& path, const std::string& key,
                             std::int64_t def, std::int64_t lo, std::int64_t hi) {
  if (!obj.contains(key) || obj[key].is_null()) return def;
  if (!obj[key].is_number_integer())
    return fail(bad(join(path, key), "expected an integer", ErrorCode::kInvalidArgument));
  const auto v = obj[key].get<std::int64_t>();
  if (v < lo || v > hi)
    return fail(bad(join(path, key), "expected " + std::to_string(lo) + " to " +
                                         std::to_string(hi) + ", got " + std::to_string(v)));
  return v;
}

Result<bool> boolean(const Json& obj, const std::string& path, const std::string& key, bool def) {
  if (!obj.contains(key) || obj[key].is_null()) return def;
  if (!obj[key].is_boolean())
    return fail(bad(join(path, key), "expected true or false", ErrorCode::kInvalidArgument));
  return obj[key].get<bool>();
}

Result<Template> tmpl(const Json& obj, const std::string& path, const std::string& key,
                      const std::string& def, const VarSchema& schema) {
  auto s = str(obj, path, key, def, kMaxTemplateBytes);
  if (!s) return fail(s.error());
  return Template::parse(*s, &schema, join(path, key));
}

bool validEmail(const std::string& e) {
  const auto at = e.find('@');
  if (at == std::string::npos || at == 0 || at + 1 >= e.size() || e.size() > 254) return false;
  for (char c : e)
    if (static_cast<unsigned char>(c) <= ' ' || c == '<' || c == '>' || c == ',' || c == ';' ||
        c == '"' || c == '\\')
      return false;
  return e.find('@', at + 1) == std::string::npos;
}

const char* kDefaultSubject = "[ThreatDesk] {{severity}} {{name}}";
const char* kDefaultText =
    "{{name}}\n\nSeverity: {{severity}} (score {{score}})\nSource: {{source}}\n"
    "Entity: {{entity.type}} {{entity.value}}\n{{#host}}Host: {{host}}\n{{/host}}"
    "State: {{state}}{{#group}} in {{group}}{{/group}}\n{{#description}}\n{{description}}\n"
    "{{/description}}\nOpen: {{link}}\n";
const char* kDefaultHtml =
    "<h2>[{{severity}}] {{name}}</h2><table>"
    "<tr><th align=\"left\">Score</th><td>{{score}}</td></tr>"
    "<tr><th align=\"left\">Source</th><td>{{source}}</td></tr>"
    "<tr><th align=\"left\">Entity</th><td>{{entity.type}} {{entity.value}}</td></tr>"
    "<tr><th align=\"left\">State</th><td>{{state}}{{#group}} in {{group}}{{/group}}</td></tr>"
    "</table>{{#description}}<p>{{description}}</p>{{/description}}"
    "<p><a href=\"{{link}}\">Open threat {{threat_id}} in ThreatDesk</a></p>";

const char* kDays[] = {"sunday",   "monday", "tuesday", "wednesday",
                       "thursday", "friday", "saturday"};

Result<EmailAction> parseEmail(const Json& e) {
  const std::string p = "email";
  if (auto ok = onlyKeys(e, p,
                         {"to_user", "to_addresses", "to_org", "time_zone", "mode", "digest",
                          "quiet_hours", "escalation", "subject", "text", "html"});
      !ok)
    return fail(ok.error());
  EmailAction a;
  auto user = str(e, p, "to_user", "", 254);
  if (!user) return fail(user.error());
  a.to_user = *user;
  if (!a.to_user.empty() && !validEmail(a.to_user))
    return fail(bad("email.to_user", "not an e-mail address"));
  if (e.contains("to_addresses")) {
    const auto& list = e["to_addresses"];
    if (!list.is_array())
      return fail(bad("email.to_addresses", "expected an array", ErrorCode::kInvalidArgument));
    if (list.size() > 100) return fail(bad("email.to_addresses", "at most 100 addresses"));
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string f = "email.to_addresses[" + std::to_string(i) + "]";
      if (!list[i].is_string() || !validEmail(list[i].get<std::string>()))
        return fail(bad(f, "not an e-mail address"));
      a.to_addresses.push_back(list[i].get<std::string>());
    }
  }
  auto org = boolean(e, p, "to_org", false);
  if (!org) return fail(org.error());
  a.to_org = *org;
  if (a.to_user.empty() && a.to_addresses.empty() && !a.to_org)
    return fail(bad("email", "name the recipients: to_user, to_addresses or to_org"));
  auto tz = str(e, p, "time_zone", "UTC", 64);
  if (!tz) return fail(tz.error());
  if (auto z = timeZone(*tz); !z) return fail(bad("email.time_zone", z.error().message));
  a.time_zone = *tz;
  auto mode = str(e, p, "mode", "realtime", 16);
  if (!mode) return fail(mode.error());
  if (*mode != "realtime" && *mode != "digest")
    return fail(bad("email.mode", "expected realtime or digest"));
  a.digest = *mode == "digest";
  if (e.contains("digest")) {
    const auto& d = e["digest"];
    if (auto ok = onlyKeys(d, "email.digest", {"every", "at", "day"}); !ok) return fail(ok.error());
    auto every = str(d, "email.digest", "every", "daily", 16);
    if (!every) return fail(every.error());
    if (*every == "hourly") {
      a.schedule.every = DigestSchedule::Every::kHourly;
      a.schedule.at_minute = 0;
    } else if (*every == "daily") {
      a.schedule.every = DigestSchedule::Every::kDaily;
    } else if (*every == "weekly") {
      a.schedule.every = DigestSchedule::Every::kWeekly;
    } else {
      return fail(bad("email.digest.every", "expected hourly, daily or weekly"));
    }
    auto at = str(d, "email.digest", "at", "", 8);
    if (!at) return fail(at.error());
    if (!at->empty()) {
      auto m = parseClock(*at, "email.digest.at");
      if (!m) return fail(m.error());
      a.schedule.at_minute = a.schedule.every == DigestSchedule::Every::kHourly ? *m % 60 : *m;
    }
    auto day = str(d, "email.digest", "day", "monday", 16);
    if (!day) return fail(day.error());
    std::string lower = *day;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    auto it = std::find(std::begin(kDays), std::end(kDays), lower);
    if (it == std::end(kDays))
      return fail(bad("email.digest.day", "expected a day of the week such as monday"));
    a.schedule.day = static_cast<int>(it - std::begin(kDays));
  }
  if (e.contains("quiet_hours") && !e["quiet_hours"].is_null()) {
    const auto& q = e["quiet_hours"];
    if (auto ok = onlyKeys(q, "email.quiet_hours", {"start", "end"}); !ok) return fail(ok.error());
    auto s = str(q, "email.quiet_hours", "start", "", 8);
    auto en = str(q, "email.quiet_hours", "end", "", 8);
    if (!s) return fail(s.error());
    if (!en) return fail(en.error());
    auto sm = parseClock(*s, "email.quiet_hours.start");
    if (!sm) return fail(sm.error());
    auto em = parseClock(*en, "email.quiet_hours.end");
    if (!em) return fail(em.error());
    if (*sm == *em) return fail(bad("email.quiet_hours", "start and end are the same time"));
    a.quiet_hours = QuietHours{*sm, *em};
  }
  if (e.contains("escalation") && !e["escalation"].is_null()) {
    const auto& x = e["escalation"];
    if (auto ok = onlyKeys(x, "email.escalation", {"after_minutes", "to"}); !ok)
      return fail(ok.error());
    auto after = integer(x, "email.escalation", "after_minutes", 60, 1, 60 * 24 * 30);
    if (!after) return fail(after.error());
    Escalation esc;
    esc.after_ms = *after * core::kMinuteMs;
    if (!x.contains("to") || !x["to"].is_array() || x["to"].empty())
      return fail(bad("email.escalation.to", "expected a non-empty array of addresses"));
    for (size_t i = 0; i < x["to"].size() && i < 100; ++i) {
      const auto& v = x["to"][i];
      if (!v.is_string() || !validEmail(v.get<std::string>()))
        return fail(bad("email.escalation.to[" + std::to_string(i) + "]", "not an e-mail address"));
      esc.to.push_back(v.get<std::string>());
    }
    a.escalation = std::move(esc);
  }
  auto subject = tmpl(e, p, "subject", kDefaultSubject, threatSchema());
  if (!subject) return fail(subject.error());
  auto text = tmpl(e, p, "text", kDefaultText, threatSchema());
  if (!text) return fail(text.error());
  auto html = tmpl(e, p, "html", kDefaultHtml, threatSchema());
  if (!html) return fail(html.error());
  a.subject = *subject;
  a.text = *text;
  a.html = *html;
  return a;
}

bool validHeaderName(const std::string& n) {
  if (n.empty() || n.size() > 128) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  return true;
}

Vars sampleVars() {
  Vars v;
  for (const auto& name : threatSchema().texts) v.set(name, "1");
  v.set("name", "Sample \"threat\" <b>&</b>\n");
  return v;
}

Result<WebhookAction> parseWebhook(const Json& w, const WebhookAction* previous) {
  const std::string p = "webhook";
  if (auto ok = onlyKeys(w, p,
                         {"preset", "method", "url", "headers", "payload", "secret", "timeout_ms",
                          "max_attempts", "backoff_ms", "fallback_response"});
      !ok)
    return fail(ok.error());
  WebhookAction a;
  auto preset = str(w, p, "preset", "", 32);
  if (!preset) return fail(preset.error());
  a.preset = *preset;
  Json base = Json::object();
  if (!a.preset.empty()) {
    if (!webhookPresets().contains(a.preset)) {
      std::string names;
      for (const auto& [k, v] : webhookPresets().items()) names += (names.empty() ? "" : ", ") + k;
      return fail(
          bad("webhook.preset", "unknown preset '" + a.preset + "' (expected " + names + ")"));
    }
    base = webhookPresets()[a.preset];
  }
  auto method = str(w, p, "method", base.value("method", "POST"), 8);
  if (!method) return fail(method.error());
  a.method = *method;
  std::transform(a.method.begin(), a.method.end(), a.method.begin(), ::toupper);
  if (a.method != "POST" && a.method != "PUT" && a.method != "PATCH" && a.method != "GET" &&
      a.method != "DELETE")
    return fail(bad("webhook.method", "expected POST, PUT, PATCH, GET or DELETE"));
  auto url_text = str(w, p, "url", "", 2048);
  if (!url_text) return fail(url_text.error());
  if (url_text->rfind("http://", 0) != 0 && url_text->rfind("https://", 0) != 0)
    return fail(bad("webhook.url", "expected an http:// or https:// URL"));
  // Templates in the URL may fill the path and query, never the scheme and host.
  const auto host_end = url_text->find('/', url_text->find("//") + 2);
  const auto first_tag = url_text->find("{{");
  if (first_tag != std::string::npos && (host_end == std::string::npos || first_tag < host_end))
    return fail(bad("webhook.url", "templates may fill the path and query, not the host"));
  auto url = Template::parse(*url_text, &threatSchema(), "webhook.url");
  if (!url) return fail(url.error());
  a.url = *url;

  Json headers = base.value("headers", Json::object());
  if (w.contains("headers") && !w["headers"].is_null()) {
    if (!w["headers"].is_object())
      return fail(
          bad("webhook.headers", "expected an object of name: value", ErrorCode::kInvalidArgument));
    for (const auto& [k, v] : w["headers"].items()) headers[k] = v;
  }
  if (headers.size() > 32) return fail(bad("webhook.headers", "at most 32 headers"));
  for (const auto& [k, v] : headers.items()) {
    const std::string f = "webhook.headers." + k;
    if (!validHeaderName(k)) return fail(bad(f, "not a valid header name"));
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower == "idempotency-key" || lower == "x-threatdesk-signature" || lower == "host" ||
        lower == "content-length")
      return fail(bad(f, "set by ThreatDesk itself"));
    if (!v.is_string()) return fail(bad(f, "expected a string", ErrorCode::kInvalidArgument));
    auto t = Template::parse(v.get<std::string>(), &threatSchema(), f);
    if (!t) return fail(t.error());
    if (lower == "content-type")
      a.json_payload = v.get<std::string>().find("json") != std::string::npos;
    a.headers.emplace_back(k, *t);
  }
  if (!headers.contains("Content-Type") && !headers.contains("content-type"))
    a.headers.emplace_back("Content-Type", *Template::parse("application/json"));
  auto payload = str(w, p, "payload", base.value("payload", ""), kMaxTemplateBytes);
  if (!payload) return fail(payload.error());
  if (payload->empty() && a.method != "GET" && a.method != "DELETE")
    payload = webhookPresets()["generic"]["payload"].get<std::string>();
  auto pt = Template::parse(*payload, &threatSchema(), "webhook.payload");
  if (!pt) return fail(pt.error());
  a.payload = *pt;
  if (a.json_payload && !a.payload.empty()) {
    const auto sample = a.payload.render(sampleVars(), Escape::kJson);
    if (!Json::accept(sample))
      return fail(bad("webhook.payload",
                      "does not render to valid JSON (put text variables inside quotes: "
                      "\"{{name}}\"; numbers such as {{score}} may stand alone)"));
  }
  if (w.contains("secret")) {
    auto secret = str(w, p, "secret", "", 256);
    if (!secret) return fail(secret.error());
    a.secret = *secret;
  } else if (previous) {
    a.secret = previous->secret;
  }
  auto timeout = integer(w, p, "timeout_ms", 5000, 100, 60000);
  if (!timeout) return fail(timeout.error());
  a.timeout_ms = *timeout;
  auto tries = integer(w, p, "max_attempts", 5, 1, 20);
  if (!tries) return fail(tries.error());
  a.max_attempts = static_cast<int>(*tries);
  auto backoff = integer(w, p, "backoff_ms", 1000, 10, 600000);
  if (!backoff) return fail(backoff.error());
  a.backoff_ms = *backoff;
  if (w.contains("fallback_response") && !w["fallback_response"].is_null()) {
    auto fb = integer(w, p, "fallback_response", 0, 1, INT64_MAX);
    if (!fb) return fail(fb.error());
    a.fallback_response = *fb;
  }
  return a;
}

}  // namespace

const std::vector<std::string>& knownEvents() {
  static const std::vector<std::string> kEvents = {"threat.created", "threat.assigned",
                                                   "threat.state_changed", "threat.closed",
                                                   "threat.reopened", "threat.noted"};
  return kEvents;
}

const Json& webhookPresets() {
  static const Json kPresets = Json::parse(presetsDocument());
  return kPresets;
}

Result<ResponseSpec> parseResponseSpec(const Json& body, const ResponseSpec* previous) {
  if (auto ok = onlyKeys(body, "",
                         {"name", "type", "enabled", "events", "projects", "scope", "min_severity",
                          "overrides", "throttle", "email", "webhook"});
      !ok)
    return fail(ok.error());
  ResponseSpec s;
  auto name = str(body, "", "name", previous ? previous->name : "", 128);
  if (!name) return fail(name.error());
  s.name = *name;
  if (s.name.empty()) return fail(bad("name", "required, 1-128 characters"));
  auto type = str(body, "", "type", previous ? previous->type : "", 16);
  if (!type) return fail(type.error());
  s.type = *type;
  if (s.type != "email" && s.type != "webhook")
    return fail(bad("type", "expected email or webhook"));
  auto enabled = boolean(body, "", "enabled", true);
  if (!enabled) return fail(enabled.error());
  s.enabled = *enabled;
  if (body.contains("events")) {
    if (!body["events"].is_array() || body["events"].empty())
      return fail(bad("events", "expected a non-empty array"));
    s.events.clear();
    for (size_t i = 0; i < body["events"].size(); ++i) {
      const auto& e = body["events"][i];
      const auto& known = knownEvents();
      if (!e.is_string() ||
          std::find(known.begin(), known.end(), e.get<std::string>()) == known.end())
        return fail(bad("events[" + std::to_string(i) + "]",
                        "unknown event (expected threat.created, threat.assigned, "
                        "threat.state_changed, threat.closed, threat.reopened or threat.noted)"));
      s.events.push_back(e.get<std::string>());
    }
  }
  if (body.contains("projects") && !body["projects"].is_null()) {
    if (!body["projects"].is_array()) return fail(bad("projects", "expected an array of ids"));
    for (const auto& p : body["projects"]) {
      if (!p.is_number_integer() || p.get<std::int64_t>() < 1)
        return fail(bad("projects", "expected positive project ids"));
      s.projects.push_back(p.get<std::int64_t>());
    }
  }
  auto scope = str(body, "", "scope", "ALL", 16);
  if (!scope) return fail(scope.error());
  std::string upper = *scope;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  if (upper == "ALL")
    s.scope = FireScope::kAll;
  else if (upper == "SIGNAL")
    s.scope = FireScope::kSignal;
  else if (upper == "THREAT")
    s.scope = FireScope::kThreat;
  else
    return fail(bad("scope", "expected ALL, SIGNAL or THREAT"));
  auto sev = str(body, "", "min_severity", "INFO", 16);
  if (!sev) return fail(sev.error());
  auto parsed = core::parseSeverity(*sev);
  if (!parsed) return fail(bad("min_severity", "expected INFO, LOW, MEDIUM, HIGH or CRITICAL"));
  s.min_severity = *parsed;
  if (body.contains("overrides") && !body["overrides"].is_null()) {
    if (!body["overrides"].is_array()) return fail(bad("overrides", "expected an array"));
    for (size_t i = 0; i < body["overrides"].size(); ++i) {
      const std::string f = "overrides[" + std::to_string(i) + "]";
      const auto& o = body["overrides"][i];
      if (auto ok = onlyKeys(o, f, {"rule_group", "source", "disabled", "min_severity"}); !ok)
        return fail(ok.error());
      Override ov;
      auto g = str(o, f, "rule_group", "", 256);
      auto src = str(o, f, "source", "", 256);
      auto dis = boolean(o, f, "disabled", false);
      auto ms = str(o, f, "min_severity", "", 16);
      if (!g) return fail(g.error());
      if (!src) return fail(src.error());
      if (!dis) return fail(dis.error());
      if (!ms) return fail(ms.error());
      ov.rule_group = *g;
      ov.source = *src;
      ov.disabled = *dis;
      if (ov.rule_group.empty() && ov.source.empty())
        return fail(bad(f, "name a rule_group or a source"));
      if (!ms->empty()) {
        auto m = core::parseSeverity(*ms);
        if (!m)
          return fail(bad(f + ".min_severity", "expected INFO, LOW, MEDIUM, HIGH or CRITICAL"));
        ov.min_severity = *m;
      }
      if (!ov.disabled && !ov.min_severity)
        return fail(bad(f, "say what it does: disabled or min_severity"));
      s.overrides.push_back(ov);
    }
  }
  if (body.contains("throttle") && !body["throttle"].is_null()) {
    const auto& t = body["throttle"];
    if (auto ok = onlyKeys(t, "throttle", {"key", "window_seconds"}); !ok) return fail(ok.error());
    auto key = tmpl(t, "throttle", "key", "{{entity.type}}:{{entity.value}}", threatSchema());
    if (!key) return fail(key.error());
    auto window = integer(t, "throttle", "window_seconds", 600, 1, 7 * 24 * 3600);
    if (!window) return fail(window.error());
    s.throttle = Throttle{*key, *window * core::kSecondMs};
  }
  if (s.type == "email") {
    if (!body.contains("email")) return fail(bad("email", "required for an email response"));
    if (body.contains("webhook")) return fail(bad("webhook", "not allowed for an email response"));
    auto e = parseEmail(body["email"]);
    if (!e) return fail(e.error());
    s.email = std::move(*e);
  } else {
    if (!body.contains("webhook")) return fail(bad("webhook", "required for a webhook response"));
    if (body.contains("email")) return fail(bad("email", "not allowed for a webhook response"));
    auto w = parseWebhook(body["webhook"],
                          previous && previous->webhook ? &*previous->webhook : nullptr);
    if (!w) return fail(w.error());
    s.webhook = std::move(*w);
  }
  return s;
}

Json encodeResponseSpec(const ResponseSpec& s, bool with_secret) {
  Json j;
  j["name"] = s.name;
  j["type"] = s.type;
  j["enabled"] = s.enabled;
  j["events"] = s.events;
  j["projects"] = s.projects;
  j["scope"] = s.scope == FireScope::kAll      ? "ALL"
               : s.scope == FireScope::kSignal ? "SIGNAL"
                                               : "THREAT";
  j["min_severity"] = core::severityName(s.min_severity);
  j["overrides"] = Json::array();
  for (const auto& o : s.overrides) {
    Json oj;
    if (!o.rule_group.empty()) oj["rule_group"] = o.rule_group;
    if (!o.source.empty()) oj["source"] = o.source;
    oj["disabled"] = o.disabled;
    if (o.min_severity) oj["min_severity"] = core::severityName(*o.min_severity);
    j["overrides"].push_back(oj);
  }
  if (s.throttle)
    j["throttle"] = {{"key", s.throttle->key.source()},
                     {"window_seconds", s.throttle->window_ms / core::kSecondMs}};
  if (s.email) {
    const auto& e = *s.email;
    Json ej;
    if (!e.to_user.empty()) ej["to_user"] = e.to_user;
    if (!e.to_addresses.empty()) ej["to_addresses"] = e.to_addresses;
    if (e.to_org) ej["to_org"] = true;
    ej["time_zone"] = e.time_zone;
    ej["mode"] = e.digest ? "digest" : "realtime";
    if (e.digest) {
      const char* every = e.schedule.every == DigestSchedule::Every::kHourly  ? "hourly"
                          : e.schedule.every == DigestSchedule::Every::kDaily ? "daily"
                                                                              : "weekly";
      char at[16];
      std::snprintf(at, sizeof at, "%02d:%02d", e.schedule.at_minute / 60 % 24,
                    e.schedule.at_minute % 60);
      ej["digest"] = {{"every", every}, {"at", at}, {"day", kDays[e.schedule.day % 7]}};
    }
    auto clock = [](int m) {
      char b[16];
      std::snprintf(b, sizeof b, "%02d:%02d", m / 60, m % 60);
      return std::string(b);
    };
    if (e.quiet_hours)
      ej["quiet_hours"] = {{"start", clock(e.quiet_hours->start_minute)},
                           {"end", clock(e.quiet_hours->end_minute)}};
    if (e.escalation)
      ej["escalation"] = {{"after_minutes", e.escalation->after_ms / core::kMinuteMs},
                          {"to", e.escalation->to}};
    ej["subject"] = e.subject.source();
    ej["text"] = e.text.source();
    ej["html"] = e.html.source();
    j["email"] = ej;
  }
  if (s.webhook) {
    const auto& w = *s.webhook;
    Json wj;
    if (!w.preset.empty()) wj["preset"] = w.preset;
    wj["method"] = w.method;
    wj["url"] = w.url.source();
    wj["headers"] = Json::object();
    for (const auto& [k, v] : w.headers) wj["headers"][k] = v.source();
    wj["payload"] = w.payload.source();
    if (with_secret)
      wj["secret"] = w.secret;
    else
      wj["secret_set"] = !w.secret.empty();
    wj["timeout_ms"] = w.timeout_ms;
    wj["max_attempts"] = w.max_attempts;
    wj["backoff_ms"] = w.backoff_ms;
    if (w.fallback_response) wj["fallback_response"] = *w.fallback_response;
    j["webhook"] = wj;
  }
  return j;
}

bool matches(const ResponseSpec& spec, const core::Threat& t) {
  if (!spec.enabled) return false;
  if (spec.scope == FireScope::kSignal && t.kind != core::ThreatKind::kSignal) return false;
  if (spec.scope == FireScope::kThreat && t.kind != core::ThreatKind::kThreat) return false;
  if (!spec.projects.empty() &&
      std::find(spec.projects.begin(), spec.projects.end(), t.project_id) == spec.projects.end())
    return false;
  core::Severity min = spec.min_severity;
  for (const auto& o : spec.overrides) {
    if (!o.rule_group.empty() && o.rule_group != t.rule_group) continue;
    if (!o.source.empty() && o.source != t.source) continue;
    if (o.disabled) return false;
    if (o.min_severity) min = *o.min_severity;
    break;  // the first matching override decides
  }
  return static_cast<int>(t.severity) >= static_cast<int>(min);
}

}  // namespace td::respond
