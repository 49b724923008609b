#include "vuln/ecosystem.h"

#include <algorithm>

#include "core/text.h"
#include "vuln/purl.h"

namespace td::vuln {
namespace {

struct Known {
  std::string_view name;  // lower-case OSV base name
  Ecosystem kind;
};

// OSV ecosystem base names (https://ossf.github.io/osv-schema/#affectedpackage-field).
constexpr Known kKnown[] = {
    {"npm", Ecosystem::kNpm},
    {"crates.io", Ecosystem::kCratesIo},
    {"go", Ecosystem::kGo},
    {"hex", Ecosystem::kHex},
    {"pub", Ecosystem::kPub},
    {"pypi", Ecosystem::kPyPI},
    {"maven", Ecosystem::kMaven},
    {"nuget", Ecosystem::kNuGet},
    {"rubygems", Ecosystem::kRubyGems},
    {"packagist", Ecosystem::kPackagist},
    {"debian", Ecosystem::kDebian},
    {"ubuntu", Ecosystem::kUbuntu},
    {"alpine", Ecosystem::kAlpine},
    {"almalinux", Ecosystem::kRpm},
    {"rocky linux", Ecosystem::kRpm},
    {"red hat", Ecosystem::kRpm},
    {"redhat", Ecosystem::kRpm},
    {"opensuse", Ecosystem::kRpm},
    {"suse", Ecosystem::kRpm},
    {"mageia", Ecosystem::kRpm},
    {"openeuler", Ecosystem::kRpm},
    {"cran", Ecosystem::kCran},
    {"hackage", Ecosystem::kHackage},
};

}  // namespace

EcosystemId parseEcosystem(std::string_view osv_name) {
  EcosystemId id;
  std::string_view trimmed = core::trim(osv_name);
  size_t colon = trimmed.find(':');
  id.name = std::string(trimmed.substr(0, colon));
  if (colon != std::string_view::npos) id.release = std::string(trimmed.substr(colon + 1));
  std::string key = core::toLower(id.name);
  for (const auto& k : kKnown) {
    if (k.name == key) {
      id.kind = k.kind;
      break;
    }
  }
  return id;
}

std::string_view ecosystemName(Ecosystem e) {
  switch (e) {
    case Ecosystem::kNpm: return "npm";
    case Ecosystem::kCratesIo: return "crates.io";
    case Ecosystem::kGo: return "Go";
    case Ecosystem::kHex: return "Hex";
    case Ecosystem::kPub: return "Pub";
    case Ecosystem::kPyPI: return "PyPI";
    case Ecosystem::kMaven: return "Maven";
    case Ecosystem::kNuGet: return "NuGet";
    case Ecosystem::kRubyGems: return "RubyGems";
    case Ecosystem::kPackagist: return "Packagist";
    case Ecosystem::kDebian: return "Debian";
    case Ecosystem::kUbuntu: return "Ubuntu";
    case Ecosystem::kAlpine: return "Alpine";
    case Ecosystem::kRpm: return "RPM";
    case Ecosystem::kCran: return "CRAN";
    case Ecosystem::kHackage: return "Hackage";
    case Ecosystem::kUnknown: break;
  }
  return "unknown";
}

std::string ecosystemKey(std::string_view base_name) { return core::toLower(core::trim(base_name)); }

std::string normalisePackageName(Ecosystem e, std::string_view name) {
  switch (e) {
    case Ecosystem::kPyPI: {
      // PEP 503: lower-case, runs of "-", "_", "." become one "-".
      std::string out;
      bool in_run = false;
      for (char c : name) {
        if (c == '-' || c == '_' || c == '.') {
          if (!in_run) out += '-';
          in_run = true;
        } else {
          out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          in_run = false;
        }
      }
      return out;
    }
    case Ecosystem::kNpm:
    case Ecosystem::kNuGet:
    case Ecosystem::kPackagist:
    case Ecosystem::kCratesIo:
    case Ecosystem::kHex:
    case Ecosystem::kPub:
      return core::toLower(name);
    default:
      return std::string(name);
  }
}

PurlPackage purlPackage(const Purl& purl) {
  PurlPackage out;
  const std::string& t = purl.type;
  auto joined = [&](char sep) {
    return purl.ns.empty() ? purl.name : purl.ns + sep + purl.name;
  };
  auto set = [&](std::string_view eco, std::string name) {
    out.ecosystem = parseEcosystem(eco);
    out.name = std::move(name);
  };
  if (t == "npm") {
    set("npm", joined('/'));
  } else if (t == "cargo") {
    set("crates.io", purl.name);
  } else if (t == "golang") {
    set("Go", joined('/'));
  } else if (t == "hex") {
    set("Hex", purl.name);
  } else if (t == "pub") {
    set("Pub", purl.name);
  } else if (t == "pypi") {
    set("PyPI", purl.name);
  } else if (t == "maven") {
    set("Maven", joined(':'));
  } else if (t == "nuget") {
    set("NuGet", purl.name);
  } else if (t == "gem") {
    set("RubyGems", purl.name);
  } else if (t == "composer") {
    set("Packagist", joined('/'));
  } else if (t == "cran") {
    set("CRAN", purl.name);
  } else if (t == "hackage") {
    set("Hackage", purl.name);
  } else if (t == "deb" || t == "apk" || t == "rpm") {
    // The namespace names the distribution ("debian", "ubuntu", "alpine", "almalinux" ...).
    std::string distro = core::toLower(purl.ns);
    std::string eco;
    if (t == "deb") {
      eco = distro == "ubuntu" ? "Ubuntu" : "Debian";
    } else if (t == "apk") {
      eco = "Alpine";
    } else if (distro == "almalinux") {
      eco = "AlmaLinux";
    } else if (distro == "rocky" || distro == "rocky-linux" || distro == "rockylinux") {
      eco = "Rocky Linux";
    } else if (distro == "redhat" || distro == "rhel") {
      eco = "Red Hat";
    } else if (distro == "opensuse") {
      eco = "openSUSE";
    } else if (distro == "suse" || distro == "sles") {
      eco = "SUSE";
    } else if (distro == "mageia") {
      eco = "Mageia";
    } else {
      eco = purl.ns.empty() ? "rpm" : purl.ns;  // unknown RPM distribution: reported
    }
    set(eco, purl.name);
    if (out.ecosystem.kind == Ecosystem::kUnknown && t == "rpm") out.ecosystem.kind = Ecosystem::kUnknown;
    // distro=almalinux-9 / debian-11 / alpine-3.16 / ubuntu-22.04: the release after the dash.
    auto it = purl.qualifiers.find("distro");
    if (it != purl.qualifiers.end()) {
      std::string_view d = it->second;
      size_t dash = d.rfind('-');
      std::string release(dash == std::string_view::npos ? d : d.substr(dash + 1));
      if (!release.empty() && (release.front() == 'v')) release.erase(0, 1);
      // Alpine advisories say "Alpine:v3.16"; keep major.minor only.
      if (out.ecosystem.kind == Ecosystem::kAlpine) {
        size_t first = release.find('.');
        size_t second = first == std::string::npos ? first : release.find('.', first + 1);
        if (second != std::string::npos) release.resize(second);
      } else if (out.ecosystem.kind == Ecosystem::kRpm) {
        size_t dot = release.find('.');
        if (dot != std::string::npos) release.resize(dot);
      }
      out.ecosystem.release = release;
    }
  } else {
    out.ecosystem.kind = Ecosystem::kUnknown;
    out.ecosystem.name = t;
    out.name = joined('/');
  }
  return out;
}

}  // namespace td::vuln
