// The one error model of ThreatDesk. A Result<T> crosses every module boundary; an Error carries
// a code (which the HTTP layer maps to a status), a message a person can act on, and where it
// applies the field path or source position of the bad input.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace td::core {

enum class ErrorCode {
  kInvalidArgument,  // malformed input: bad JSON, wrong type (HTTP 400)
  kUnprocessable,    // well-formed but not acceptable: unknown state, score out of range (422)
  kNotFound,         // (404)
  kConflict,         // the change collides with the current state (409)
  kUnauthenticated,  // no or bad credentials (401)
  kForbidden,        // authenticated but not allowed (403)
  kTooLarge,         // body or field over its limit (413)
  kUnavailable,      // the store or a peer cannot answer now (503)
  kInternal,         // a bug or an environment failure (500)
};

// The stable, machine-readable name of a code ("invalid_argument", "not_found", ...).
std::string_view errorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string field;  // JSON path, CLI option or "file:line:col"; empty when not about one input
};

template <typename T>
using Result = tl::expected<T, Error>;

// The unexpected-value helper: `return fail(ErrorCode::kNotFound, "no threat 42");`
inline tl::unexpected<Error> fail(ErrorCode code, std::string message, std::string field = {}) {
  return tl::unexpected<Error>(Error{code, std::move(message), std::move(field)});
}
inline tl::unexpected<Error> fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

// For functions that return nothing but may fail.
using Status = Result<void>;

}  // namespace td::core
