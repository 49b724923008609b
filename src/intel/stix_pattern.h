// The STIX 2.1 patterning language, the part an event matcher can evaluate: equality comparisons
// over the observable types the index holds, joined by AND / OR, at comparison and at observation
// level. A pattern is parsed to disjunctive normal form: a list of terms, each a conjunction of
// atoms (type + canonical value). A term that needs something the matcher cannot evaluate (a
// MATCHES/LIKE/!= comparison, NOT, an unsupported object type such as x509-certificate) is dropped
// and its reason reported; a pattern whose every term was dropped cannot be matched at all.
//
// Grammar accepted (after STIXPattern.g4; keywords are upper-case as the spec writes them):
//
//   pattern      = obs_or EOF ;
//   obs_or       = obs_and { "OR" obs_and } ;
//   obs_and      = obs_seq { "AND" obs_seq } ;
//   obs_seq      = obs_unit { "FOLLOWEDBY" obs_unit } ;
//   obs_unit     = ( "[" cmp_or "]" | "(" obs_or ")" ) { qualifier } ;
//   qualifier    = "WITHIN" number "SECONDS" | "REPEATS" int "TIMES" | "START" t"…" "STOP" t"…" ;
//   cmp_or       = cmp_and { "OR" cmp_and } ;
//   cmp_and      = cmp_unit { "AND" cmp_unit } ;
//   cmp_unit     = "(" cmp_or ")" | [ "NOT" ] path op value | [ "NOT" ] "EXISTS" path ;
//   op           = "=" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "IN" | "LIKE" | "MATCHES"
//                | "ISSUBSET" | "ISSUPERSET" ;
//   value        = 'string' | number | true | false | t'…' | h'…' | b'…' | "(" value {"," value} ")" ;
//   path         = object-type ":" property { "." property | "[" (int | "*") "]" } ;
//
// Observation-level AND / FOLLOWEDBY are evaluated as "in the same event" and qualifiers are
// ignored; both are reported as warnings. Nesting deeper than kMaxPatternDepth and DNF expansion
// beyond kMaxPatternTerms are errors.
//
// Pure functions; safe from any thread; never throw.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "intel/indicator.h"

namespace td::intel {

constexpr int kMaxPatternDepth = 64;
constexpr size_t kMaxPatternTerms = 256;
constexpr size_t kMaxPatternLength = 64 * 1024;

struct StixPattern {
  std::vector<std::vector<Atom>> terms;  // OR of ANDs; every atom canonical
  std::vector<std::string> dropped;      // why each dropped term cannot be matched
  std::vector<std::string> warnings;
};

// A syntax error fails with the column ("col 17") in the error's field.
core::Result<StixPattern> parseStixPattern(std::string_view pattern);

}  // namespace td::intel
