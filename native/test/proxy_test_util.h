// Helpers shared by native/test/test_proxy_protocol.cc and the libFuzzer
// target native/fuzz/fuzz_proxy_protocol.cc: a parsed header as one string
// (to compare two parses field by field, views by content), and a parse
// that feeds the bytes in pieces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "../proxy_protocol.h"

namespace proxy_test {

using socketserver::ProxyBytes;
using socketserver::ProxyEndpoint;
using socketserver::ProxyErrorInfo;
using socketserver::ProxyHeader;
using socketserver::ProxyOptions;
using socketserver::ProxyParser;
using socketserver::ProxyTlv;
using socketserver::ProxyTlvReader;

inline std::string Hex(ProxyBytes b) {
  if (!b) return "-";
  static const char kHex[] = "0123456789abcdef";
  std::string s(2 * b.size + 2, ']');
  s[0] = '[';
  for (size_t i = 0; i < b.size; ++i) {
    s[1 + 2 * i] = kHex[b.data[i] >> 4];
    s[2 + 2 * i] = kHex[b.data[i] & 15];
  }
  return s;
}

inline std::string Endpoint(const ProxyEndpoint& e) {
  return std::string(e.host) + "/" + std::to_string(e.port) + "/" + Hex(e.unix_path);
}

inline std::string Tlvs(ProxyBytes area) {
  std::string s;
  ProxyTlvReader r(area);
  ProxyTlv t;
  while (r.Next(&t)) s += std::to_string(t.type) + "=" + Hex(t.value) + ",";
  return s;
}

// Every field of a parsed header, views by content.
inline std::string Describe(const ProxyHeader& h) {
  std::string s = "v" + std::to_string(h.version);
  s += " cmd=" + std::to_string(static_cast<int>(h.command));
  s += " fam=" + std::to_string(static_cast<int>(h.family));
  s += " tr=" + std::to_string(static_cast<int>(h.transport));
  s += h.v1_unknown ? " unknown" : "";
  s += " size=" + std::to_string(h.size);
  if (h.HasAddresses()) s += " src=" + Endpoint(h.source) + " dst=" + Endpoint(h.destination);
  s += " alpn=" + Hex(h.alpn) + " auth=" + Hex(h.authority) + " uid=" + Hex(h.unique_id);
  s += " netns=" + Hex(h.netns);
  if (h.has_crc32c) s += " crc=" + std::to_string(h.crc32c);
  if (h.ssl.present) {
    s += " ssl=" + std::to_string(h.ssl.client) + "/" + std::to_string(h.ssl.verify);
    s += "/" + Hex(h.ssl.version) + "/" + Hex(h.ssl.cn) + "/" + Hex(h.ssl.cipher);
    s += "/" + Hex(h.ssl.sig_alg) + "/" + Hex(h.ssl.key_alg) + "/" + Tlvs(h.ssl.sub_tlvs);
  }
  s += " tlvs=" + (h.tlvs ? Tlvs(h.tlvs) : std::string("-"));
  return s;
}

// What a parse came to: status, bytes taken, then the header or the error.
inline std::string Outcome(const ProxyParser& p) {
  std::string s = std::to_string(p.status()) + " consumed=" + std::to_string(p.consumed());
  if (p.status() == ProxyParser::kDone) s += " " + Describe(p.header());
  if (p.status() == ProxyParser::kFailed) {
    s += " error=" + std::string(socketserver::ProxyErrorName(p.error().code));
    s += "@" + std::to_string(p.error().offset) + " " + p.error().message;
  }
  return s;
}

// Feeds data[0, size) in pieces ending at `cuts` (ascending, each < size),
// then the rest; checks that each Feed() took all it was given unless the
// parse ended inside it. Returns false if a Feed() broke that rule.
inline bool FeedInPieces(ProxyParser* p, const uint8_t* data, size_t size,
                         const std::vector<size_t>& cuts) {
  size_t at = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(size);
  for (size_t end : ends) {
    if (end < at) continue;
    const size_t n = end - at;
    const size_t used = p->Feed(data + at, n);
    if (used > n) return false;
    if (used < n && p->status() == ProxyParser::kNeedMore) return false;
    if (p->status() != ProxyParser::kNeedMore && used != n) {
      // It ended inside this piece: nothing more is taken afterwards.
      return p->Feed(data + at + used, size - at - used) == 0;
    }
    at = end;
  }
  return true;
}

}  // namespace proxy_test
