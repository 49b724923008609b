// The dispatcher's sender for scheduled reports (deliveries of kind "report", queued by
// td::report's scheduler in the same transaction that keeps the run's rendered file): the message
// composed at run time, with the run's file attached, through the same SMTP path, Message-ID and
// recorded tries as every e-mail delivery.
#include "respond/dispatcher.h"

namespace td::respond {

Dispatcher::Outcome Dispatcher::sendReport(const store::Delivery& d, const nlohmann::json& p) {
  Outcome o;
  o.attempt.at = now();
  const std::int64_t run_id = p.value("run_id", std::int64_t{0});
  auto file = store_.reports().runFile(run_id);
  if (!file) {
    // A pruned file does not come back; a store error may pass.
    o.verdict = file.error().code == core::ErrorCode::kNotFound ? Verdict::kFailed : Verdict::kRetry;
    o.attempt.error = file.error().message;
    return o;
  }
  EmailMessage m;
  for (const auto& t : p.value("to", nlohmann::json::array()))
    if (t.is_string()) m.to.push_back(t.get<std::string>());
  m.subject = p.value("subject", "");
  m.text = p.value("text", "");
  m.html = p.value("html", "");
  m.headers.emplace_back("X-ThreatDesk-Report", std::to_string(p.value("report_id", 0)));
  m.headers.emplace_back("X-ThreatDesk-Report-Run", std::to_string(run_id));
  const std::string attached = file->file_name + " (" + file->content_type + ", " +
                               std::to_string(file->bytes.size()) + " bytes)";
  m.attachments.push_back({std::move(file->file_name), std::move(file->content_type),
                           std::move(file->bytes)});
  o = sendMail(d, std::move(m));
  o.attempt.request += "\nAttachment: " + attached;
  return o;
}

}  // namespace td::respond
