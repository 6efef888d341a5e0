// libFuzzer target: the bytes a connection (or a datagram) starts with, as
// the PROXY protocol parser reads them (native/proxy_protocol.h).
//
// Input: 1 byte of options (bits 0-1: mode v1 / v2 / any; bits 2-3: the
// v2 length cap, default / 64 / 300 / the protocol's 65535), 1 byte that
// seeds how the bytes are split between Feed() calls, then the bytes.
// Properties:
//  - Feed() takes no more than it is given, all of it while the header is
//    incomplete, and on success exactly the header (v1: "PROXY ... CRLF" of
//    at most 107 bytes; v2: 16 + its length field, within the cap);
//  - the outcome (status, bytes taken, header field by field, or the error
//    code, offset and message) is the same whether the bytes come in one
//    piece, split at any position, byte by byte, or in random pieces, and
//    the same through ParseComplete(), whose views point into the input
//    (every split position and byte by byte for one input in eight, chosen
//    by the split byte; the others are cut where the parser changes state);
//  - a header's addresses are well formed: IPv4/IPv6 text that inet_pton
//    reads back to the same bytes (and, for v1, the same bytes inet_pton
//    makes of the line's own text), a Unix name within 108 bytes with no NUL
//    in a path; its TLV areas walk to their exact end; a CRC32C that it
//    reports verified is the header's; a v2 header's addresses written as a
//    v1 line parse back to the same addresses;
//  - the v1 address parsers accept exactly what inet_pton accepts, with the
//    same bytes, and the address text is exactly inet_ntop's (the input
//    itself as address text, and as address bytes).
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../proxy_protocol.h"
#include "../test/proxy_test_util.h"

using namespace socketserver;

#define CHECK(cond) \
  do {              \
    if (!(cond)) __builtin_trap(); \
  } while (0)

namespace {

const uint8_t kSig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

std::string Run(const ProxyOptions& opt, const uint8_t* data, size_t size, const std::vector<size_t>& cuts) {
  ProxyParser p(opt);
  CHECK(proxy_test::FeedInPieces(&p, data, size, cuts));
  p.Finish();
  return proxy_test::Outcome(p);
}

bool Within(ProxyBytes b, const uint8_t* lo, size_t n) {
  return !b || (b.data >= lo && b.data + b.size <= lo + n);
}

size_t WalkedSize(ProxyBytes area) {
  ProxyTlvReader r(area);
  ProxyTlv t;
  size_t n = 0;
  while (r.Next(&t)) n += 3 + t.value.size;
  return n;
}

void CheckEndpoint(const ProxyEndpoint& e, ProxyFamily family) {
  if (family == ProxyFamily::kInet || family == ProxyFamily::kInet6) {
    const int af = family == ProxyFamily::kInet ? AF_INET : AF_INET6;
    uint8_t back[16];
    CHECK(e.host[0] != '\0' && std::strlen(e.host) < sizeof e.host);
    CHECK(inet_pton(af, e.host, back) == 1);
    CHECK(std::memcmp(back, e.addr, af == AF_INET ? 4 : 16) == 0);
    CHECK(!e.unix_path);
  } else if (family == ProxyFamily::kUnix) {
    const ProxyBytes& p = e.unix_path;
    CHECK(p && p.size <= kProxyUnixAddrSize && e.host[0] == '\0');
    if (p.size > 0 && p.data[0] == '\0') {
      CHECK(p.data[p.size - 1] != '\0');  // abstract: trailing NULs dropped
    } else {
      CHECK(std::memchr(p.data, 0, p.size) == nullptr);
    }
  }
}

// A v1 TCP4/TCP6 line's address fields, as inet_pton reads them.
void CheckV1AgainstLibc(const ProxyHeader& h, const uint8_t* line) {
  std::vector<std::string> fields;
  std::string cur;
  for (size_t i = 6; i + 2 < h.size; ++i) {
    if (line[i] == ' ') {
      fields.push_back(cur);
      cur.clear();
    } else {
      cur += static_cast<char>(line[i]);
    }
  }
  fields.push_back(cur);
  CHECK(fields.size() == 5);
  const int af = h.family == ProxyFamily::kInet ? AF_INET : AF_INET6;
  uint8_t a[16];
  CHECK(inet_pton(af, fields[1].c_str(), a) == 1 && std::memcmp(a, h.source.addr, af == AF_INET ? 4 : 16) == 0);
  CHECK(inet_pton(af, fields[2].c_str(), a) == 1 &&
        std::memcmp(a, h.destination.addr, af == AF_INET ? 4 : 16) == 0);
  CHECK(std::to_string(h.source.port) == fields[3] && std::to_string(h.destination.port) == fields[4]);
}

void CheckHeader(const ProxyHeader& h, const uint8_t* data, size_t size, const ProxyOptions& opt) {
  CHECK(h.size <= size);
  if (h.version == 1) {
    CHECK(h.size >= kProxyV1MinLine && h.size <= kProxyV1MaxLine);
    CHECK(std::memcmp(data, "PROXY ", 6) == 0 && data[h.size - 2] == '\r' && data[h.size - 1] == '\n');
    CHECK(std::memchr(data, '\n', h.size - 1) == nullptr);
    CHECK(!h.tlvs && !h.alpn && !h.authority && !h.unique_id && !h.netns && !h.has_crc32c && !h.ssl.present);
    CHECK(h.v1_unknown == !h.HasAddresses());
    if (h.HasAddresses()) CheckV1AgainstLibc(h, data);
  } else {
    CHECK(h.version == 2);
    CHECK(h.size >= kProxyV2FixedSize && std::memcmp(data, kSig, 12) == 0);
    CHECK(h.size == kProxyV2FixedSize + (static_cast<size_t>(data[14]) << 8 | data[15]));
    CHECK(h.size - kProxyV2FixedSize <= opt.max_v2_length);
    CHECK(h.tlvs && Within(h.tlvs, data, h.size) && h.tlvs.data + h.tlvs.size == data + h.size);
    CHECK(WalkedSize(h.tlvs) == h.tlvs.size);
    CHECK(!h.unique_id || h.unique_id.size <= kProxyUniqueIdMax);
    for (ProxyBytes b : {h.alpn, h.authority, h.unique_id, h.netns, h.ssl.version, h.ssl.cn, h.ssl.cipher,
                         h.ssl.sig_alg, h.ssl.key_alg, h.ssl.sub_tlvs})
      CHECK(Within(b, h.tlvs.data, h.tlvs.size));
    if (h.ssl.present) CHECK(WalkedSize(h.ssl.sub_tlvs) == h.ssl.sub_tlvs.size);
    if (h.has_crc32c) {
      // Find the TLV again and check the sum independently.
      ProxyTlvReader r(h.tlvs);
      ProxyTlv t;
      bool found = false;
      while (r.Next(&t)) {
        if (t.type != kPp2TypeCrc32c) continue;
        CHECK(!found && t.value.size == 4);
        found = true;
        std::vector<uint8_t> copy(data, data + h.size);
        std::memset(&copy[static_cast<size_t>(t.value.data - data)], 0, 4);
        CHECK(proxy_detail::Crc32c(0, copy.data(), copy.size()) == h.crc32c);
      }
      CHECK(found);
    }
  }
  if (h.HasAddresses()) {
    CheckEndpoint(h.source, h.family);
    CheckEndpoint(h.destination, h.family);
  }
  // Any IP header's addresses, written as v1, read back the same.
  if (h.HasAddresses() && (h.family == ProxyFamily::kInet || h.family == ProxyFamily::kInet6)) {
    const std::string line = std::string("PROXY ") + (h.family == ProxyFamily::kInet ? "TCP4 " : "TCP6 ") +
                             h.source.host + " " + h.destination.host + " " + std::to_string(h.source.port) +
                             " " + std::to_string(h.destination.port) + "\r\n";
    ProxyParser v1({ProxyMode::kV1});
    const size_t used = v1.Feed(reinterpret_cast<const uint8_t*>(line.data()), line.size());
    CHECK(used == line.size() && v1.status() == ProxyParser::kDone);
    const ProxyHeader& g = v1.header();
    CHECK(g.family == h.family && g.source.port == h.source.port && g.destination.port == h.destination.port);
    CHECK(std::memcmp(g.source.addr, h.source.addr, 16) == 0);
    CHECK(std::memcmp(g.destination.addr, h.destination.addr, 16) == 0);
  }
}

// The address parsers and formatters against libc, on the input itself.
void CheckAddressText(const uint8_t* data, size_t size) {
  if (size >= 16) {
    char ours[46], libc[46];
    proxy_detail::FormatIPv6(data, ours);
    CHECK(inet_ntop(AF_INET6, data, libc, sizeof libc) != nullptr && std::strcmp(ours, libc) == 0);
    proxy_detail::FormatIPv4(data, ours);
    CHECK(inet_ntop(AF_INET, data, libc, sizeof libc) != nullptr && std::strcmp(ours, libc) == 0);
  }
  if (size > 64 || std::memchr(data, 0, size) != nullptr) return;
  const std::string s(reinterpret_cast<const char*>(data), size);
  uint8_t ours[16], libc[16];
  bool ok = proxy_detail::ParseIPv4Text(s.data(), s.size(), ours);
  CHECK(ok == (inet_pton(AF_INET, s.c_str(), libc) == 1));
  if (ok) CHECK(std::memcmp(ours, libc, 4) == 0);
  ok = proxy_detail::ParseIPv6Text(s.data(), s.size(), ours);
  CHECK(ok == (inet_pton(AF_INET6, s.c_str(), libc) == 1));
  if (ok) CHECK(std::memcmp(ours, libc, 16) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t config = data[0];
  uint32_t seed = data[1] * 2654435761u + 1;
  data += 2;
  size -= 2;
  CheckAddressText(data, size);

  ProxyOptions opt;
  static const ProxyMode kModes[] = {ProxyMode::kV1, ProxyMode::kV2, ProxyMode::kAny, ProxyMode::kAny};
  static const size_t kCaps[] = {kProxyV2DefaultMaxLength, 64, 300, kProxyV2ProtocolMaxLength};
  opt.mode = kModes[config & 3];
  opt.max_v2_length = kCaps[(config >> 2) & 3];

  // In one piece.
  ProxyParser whole(opt);
  const size_t used = whole.Feed(data, size);
  CHECK(used <= size && used == whole.consumed());
  CHECK(whole.Feed(data + used, size - used) == (whole.status() == ProxyParser::kNeedMore ? size - used : 0));
  switch (whole.status()) {
    case ProxyParser::kNeedMore:
      CHECK(used == size);
      CHECK(whole.WantedSize() > 0 && whole.SafeReadSize() > 0 && whole.SafeReadSize() <= whole.WantedSize());
      CHECK(size + whole.WantedSize() <= kProxyV2FixedSize + opt.max_v2_length ||
            size + whole.WantedSize() <= kProxyV1MaxLine);
      break;
    case ProxyParser::kDone:
      // The header itself is checked below, as ParseComplete() returns it
      // (its views point into `data`; these into the parser's copy).
      CHECK(used == whole.header().size);
      CHECK(whole.WantedSize() == 0 && whole.SafeReadSize() == 0);
      break;
    case ProxyParser::kFailed:
      CHECK(whole.error().code != ProxyError::kNone && whole.error().offset < used + 1);
      for (const char* c = whole.error().message; *c; ++c) CHECK(*c >= 0x20 && *c < 0x7f);
      CHECK(whole.error().message[0] != '\0');
      break;
  }
  const ProxyParser::Status before_finish = whole.status();
  whole.Finish();
  if (before_finish == ProxyParser::kNeedMore)
    CHECK(whole.status() == ProxyParser::kFailed && whole.error().code == ProxyError::kTruncated);
  const std::string want = proxy_test::Outcome(whole);

  // ParseComplete: same outcome, views into the input.
  ProxyHeader h;
  ProxyErrorInfo e;
  if (ProxyParser::ParseComplete(data, size, opt, &h, &e)) {
    CHECK(whole.status() == ProxyParser::kDone);
    CHECK(proxy_test::Describe(h) == proxy_test::Describe(whole.header()));
    CheckHeader(h, data, size, opt);
  } else {
    CHECK(whole.status() == ProxyParser::kFailed && e.code == whole.error().code);
    CHECK(e.offset == whole.error().offset && std::strcmp(e.message, whole.error().message) == 0);
  }

  // Past the end of the header (or the failing byte) a cut changes nothing.
  const size_t end = std::min(size, used + 2);
  if (data[-1] % 8 == 0) {
    // One input in eight (by the split byte, so that a crash reproduces):
    // split once at every position near the start (the fixed part, the v1
    // line) and at a sample of the others, and byte by byte.
    const size_t span = std::min<size_t>(end, 200);
    for (size_t cut = 0; cut <= end; cut += (cut < span ? 1 : 1 + seed % 61)) {
      CHECK(Run(opt, data, size, {cut}) == want);
    }
    std::vector<size_t> bytewise;
    for (size_t i = 1; i < end; ++i) bytewise.push_back(i);
    CHECK(Run(opt, data, size, bytewise) == want);
  } else {
    // The others: cuts where the parser changes state (first byte, the v2
    // fixed part, the end of the header) and one chosen by the split byte.
    for (size_t cut : {size_t{1}, size_t{6}, size_t{12}, size_t{13}, size_t{14}, size_t{15}, size_t{16},
                       used - (used > 0), used, data[-1] % (end + 1)}) {
      if (cut <= size) CHECK(Run(opt, data, size, {cut}) == want);
    }
  }
  // Random pieces.
  std::vector<size_t> cuts;
  for (size_t at = 0;;) {
    seed = seed * 1103515245u + 12345u;
    at += 1 + (seed >> 16) % 40;
    if (at >= size) break;
    cuts.push_back(at);
  }
  CHECK(Run(opt, data, size, cuts) == want);
  return 0;
}
