// Tests of native/proxy_protocol.{h,cc}, the PROXY protocol parser: one
// executable, no framework. Run it bare for the tests, or with --bench for
// the CPU cost of a parse per header kind.
//
//   npm run test:native                (builds it with ASan+UBSan, C++17 and C++20)
//   cmake-js build ... -DSOCKETSERVER_NATIVE_TESTS=ON → proxy-protocol-test
#include <arpa/inet.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../proxy_protocol.h"
#include "proxy_test_util.h"

using namespace socketserver;
using proxy_test::Describe;
using proxy_test::FeedInPieces;
using proxy_test::Outcome;
using Bytes = std::vector<uint8_t>;

namespace {

int g_checks = 0;
int g_failures = 0;
const char* g_test = "";

#define EXPECT(cond) Expect((cond), #cond, __LINE__, "")
#define EXPECT_MSG(cond, msg) Expect((cond), #cond, __LINE__, (msg))
#define EXPECT_EQ_STR(a, b) ExpectEqStr((a), (b), #a, __LINE__)

void Expect(bool ok, const char* what, int line, const std::string& msg) {
  ++g_checks;
  if (ok) return;
  ++g_failures;
  std::fprintf(stderr, "FAIL %s (line %d): %s %s\n", g_test, line, what, msg.c_str());
}

void ExpectEqStr(const std::string& a, const std::string& b, const char* what, int line) {
  ++g_checks;
  if (a == b) return;
  ++g_failures;
  std::fprintf(stderr, "FAIL %s (line %d): %s\n  got:  %s\n  want: %s\n", g_test, line, what, a.c_str(),
               b.c_str());
}

struct TestCase {
  const char* name;
  void (*fn)();
};
std::vector<TestCase>& Tests() {
  static std::vector<TestCase> tests;
  return tests;
}
struct Register {
  Register(const char* name, void (*fn)()) { Tests().push_back({name, fn}); }
};
#define TEST(name)                         \
  void Test_##name();                      \
  Register register_##name(#name, Test_##name); \
  void Test_##name()

Bytes B(const std::string& s) { return Bytes(s.begin(), s.end()); }
std::string S(ProxyBytes b) { return b ? std::string(reinterpret_cast<const char*>(b.data), b.size) : "<absent>"; }

// ---- building v2 headers ----

const Bytes kSig = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

void Put16(Bytes* b, size_t v) {
  b->push_back(static_cast<uint8_t>(v >> 8));
  b->push_back(static_cast<uint8_t>(v));
}

Bytes Tlv(uint8_t type, const Bytes& value) {
  Bytes t = {type};
  Put16(&t, value.size());
  t.insert(t.end(), value.begin(), value.end());
  return t;
}

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Fixed part with the length of `body`, then `body`.
Bytes V2(uint8_t ver_cmd, uint8_t fam, const Bytes& body) {
  Bytes h = kSig;
  h.push_back(ver_cmd);
  h.push_back(fam);
  Put16(&h, body.size());
  h.insert(h.end(), body.begin(), body.end());
  return h;
}

Bytes Inet4(const char* src, const char* dst, uint16_t sport, uint16_t dport) {
  Bytes b(12);
  inet_pton(AF_INET, src, &b[0]);
  inet_pton(AF_INET, dst, &b[4]);
  b[8] = sport >> 8, b[9] = sport & 0xff, b[10] = dport >> 8, b[11] = dport & 0xff;
  return b;
}

Bytes Inet6(const char* src, const char* dst, uint16_t sport, uint16_t dport) {
  Bytes b(36);
  inet_pton(AF_INET6, src, &b[0]);
  inet_pton(AF_INET6, dst, &b[16]);
  b[32] = sport >> 8, b[33] = sport & 0xff, b[34] = dport >> 8, b[35] = dport & 0xff;
  return b;
}

Bytes Unix(const Bytes& src, const Bytes& dst) {
  Bytes b(216);
  std::copy(src.begin(), src.end(), b.begin());
  std::copy(dst.begin(), dst.end(), b.begin() + 108);
  return b;
}

// Appends a PP2_TYPE_CRC32C TLV to a complete header and fills it in.
Bytes WithCrc(Bytes h) {
  const Bytes crc = Tlv(kPp2TypeCrc32c, Bytes(4));
  h.insert(h.end(), crc.begin(), crc.end());
  const size_t len = h.size() - 16;
  h[14] = static_cast<uint8_t>(len >> 8), h[15] = static_cast<uint8_t>(len);
  const uint32_t c = proxy_detail::Crc32c(0, h.data(), h.size());
  const size_t at = h.size() - 4;
  h[at] = c >> 24, h[at + 1] = (c >> 16) & 0xff, h[at + 2] = (c >> 8) & 0xff, h[at + 3] = c & 0xff;
  return h;
}

// ---- parsing ----

struct Result {
  ProxyParser::Status status;
  size_t consumed;
  std::string outcome;
};

// One Feed() of everything, then (if it still needs more) Finish(); checks
// that the same bytes split at every position, and byte by byte, and
// through ParseComplete(), give the same outcome.
std::string Parse(const Bytes& in, ProxyOptions opt = {}, bool finish = true) {
  ProxyParser whole(opt);
  const size_t used = whole.Feed(in.data(), in.size());
  EXPECT(used == whole.consumed());
  if (finish) whole.Finish();
  const std::string want = Outcome(whole);
  for (size_t cut = 0; cut <= in.size(); ++cut) {
    // Long inputs: every cut near the ends and around the fixed part, a
    // sample elsewhere.
    if (cut > 300 && cut + 300 < in.size() && cut % 97 != 0) continue;
    ProxyParser split(opt);
    EXPECT(FeedInPieces(&split, in.data(), in.size(), {cut}));
    if (finish) split.Finish();
    EXPECT_EQ_STR(Outcome(split), want);
  }
  ProxyParser bytewise(opt);
  std::vector<size_t> cuts;
  for (size_t i = 1; i < in.size(); ++i) cuts.push_back(i);
  EXPECT(FeedInPieces(&bytewise, in.data(), in.size(), cuts));
  if (finish) bytewise.Finish();
  EXPECT_EQ_STR(Outcome(bytewise), want);
  if (finish) {
    ProxyHeader h;
    ProxyErrorInfo e;
    const bool ok = ProxyParser::ParseComplete(in.data(), in.size(), opt, &h, &e);
    EXPECT(ok == (whole.status() == ProxyParser::kDone));
    if (ok) {
      EXPECT_EQ_STR(Describe(h), Describe(whole.header()));
      EXPECT(!h.tlvs || (h.tlvs.data >= in.data() && h.tlvs.data + h.tlvs.size <= in.data() + h.size));
    } else {
      EXPECT(e.code == whole.error().code);
      EXPECT_EQ_STR(e.message, whole.error().message);
    }
  }
  return want;
}

// Parses `in` whole: the header, or a failure.
struct Parsed {
  ProxyParser parser;
  explicit Parsed(const Bytes& in, ProxyOptions opt = {}) : parser(opt) {
    Parse(in, opt);
    parser.Feed(in.data(), in.size());
    parser.Finish();
  }
  bool ok() const { return parser.status() == ProxyParser::kDone; }
  const ProxyHeader& h() const { return parser.header(); }
  ProxyError code() const { return parser.error().code; }
  std::string message() const { return parser.error().message; }
};

void ExpectError(const Bytes& in, ProxyError code, const char* fragment, ProxyOptions opt = {}) {
  Parsed p(in, opt);
  EXPECT_MSG(!p.ok(), Describe(p.h()));
  EXPECT_MSG(p.code() == code, std::string(ProxyErrorName(p.code())) + " want " + ProxyErrorName(code) + ": " +
                                   p.message());
  EXPECT_MSG(p.message().find(fragment) != std::string::npos,
             "message \"" + p.message() + "\" lacks \"" + fragment + "\"");
}

void ExpectError(const std::string& in, ProxyError code, const char* fragment, ProxyOptions opt = {}) {
  ExpectError(B(in), code, fragment, opt);
}

// ---- tests ----

TEST(crc32c_known_values) {
  const Bytes digits = B("123456789");
  EXPECT(proxy_detail::Crc32c(0, digits.data(), digits.size()) == 0xE3069283u);
  // In pieces, continued.
  uint32_t c = proxy_detail::Crc32c(0, digits.data(), 4);
  EXPECT(proxy_detail::Crc32c(c, digits.data() + 4, 5) == 0xE3069283u);
  const Bytes zeros(32, 0);
  EXPECT(proxy_detail::Crc32c(0, zeros.data(), zeros.size()) == 0x8A9136AAu);  // RFC 3720 B.4
}

bool V4(const char* s, uint8_t out[4] = nullptr) {
  uint8_t tmp[4];
  return proxy_detail::ParseIPv4Text(s, std::strlen(s), out ? out : tmp);
}
bool V6(const char* s) {
  uint8_t ours[16], libc[16];
  const bool ok = proxy_detail::ParseIPv6Text(s, std::strlen(s), ours);
  const bool libc_ok = inet_pton(AF_INET6, s, libc) == 1;
  EXPECT_MSG(ok == libc_ok, s);
  if (ok && libc_ok) EXPECT_MSG(std::memcmp(ours, libc, 16) == 0, s);
  return ok;
}

TEST(ipv4_text) {
  uint8_t a[4];
  EXPECT(V4("192.168.0.1", a) && a[0] == 192 && a[3] == 1);
  EXPECT(V4("0.0.0.0"));
  EXPECT(V4("255.255.255.255"));
  EXPECT(V4("10.0.10.100"));
  for (const char* bad : {"", "1.2.3", "1.2.3.4.", "1..2.3", "01.2.3.4", "1.2.3.00", "256.1.1.1", "1.2.3.4 ",
                          " 1.2.3.4", "1.2.3.1000", "+1.2.3.4", "1.2.3.-4", "0x1.2.3.4", "1.2.3.4/8", "1,2,3,4",
                          "999.1.1.1", "1.2.3.0255"}) {
    EXPECT_MSG(!V4(bad), bad);
  }
}

TEST(ipv6_text_matches_inet_pton) {
  for (const char* good :
       {"::", "::1", "1::", "2001:db8::1", "2001:DB8::A", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "0000:0000:0000:0000:0000:0000:0000:0001", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6::", "::2:3:4:5:6:7:8",
        "1::8", "::ffff:192.0.2.1", "::192.0.2.1", "1:2:3:4:5:6:1.2.3.4", "1::1.2.3.4", "fe80::1:2"}) {
    EXPECT_MSG(V6(good), good);
  }
  for (const char* bad :
       {"", ":", ":1", "1:", ":::", "1:::2", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8",
        "::1:2:3:4:5:6:7:8", "fe80::1%eth0", "::ffff:01.2.3.4", "::ffff:1.2.3", "1:2:3:4:5:6:7:1.2.3.4",
        "g::", "::1 ", " ::1", "[::1]", "1.2.3.4", "::ffff:1.2.3.4:5", "::1.2.3.4.5", "1:2:3:4:5:6:7",
        "::fffff", "02001:db8::1"}) {
    EXPECT_MSG(!V6(bad), bad);
  }
}

// The text of an address is inet_ntop's, exactly: every pattern of zero
// and non-zero groups, IPv4 tails, and a pseudo-random sample.
TEST(address_text_matches_inet_ntop) {
  char ours[46], libc[46];
  uint8_t a[16];
  uint32_t seed = 12345;
  for (int i = 0; i < 70000; ++i) {
    for (int b = 0; b < 16; ++b) {
      seed = seed * 1103515245u + 12345u;
      a[b] = static_cast<uint8_t>(seed >> 16);
    }
    if (i < 65536) {
      // Bits 0-7: which groups are zero; bits 8-15: the others' values.
      for (int w = 0; w < 8; ++w) {
        const bool zero = (i >> w) & 1;
        const unsigned v = ((i >> (8 + w)) & 1) ? 0xffff : 1 + w * 0x111;
        a[2 * w] = zero ? 0 : static_cast<uint8_t>(v >> 8);
        a[2 * w + 1] = zero ? 0 : static_cast<uint8_t>(v);
      }
      if ((i & 0xff) == 0x1f) a[10] = a[11] = 0xff;  // ::ffff:a.b.c.d and the like
    }
    proxy_detail::FormatIPv6(a, ours);
    inet_ntop(AF_INET6, a, libc, sizeof libc);
    EXPECT_EQ_STR(ours, libc);
    proxy_detail::FormatIPv4(a, ours);
    inet_ntop(AF_INET, a, libc, sizeof libc);
    EXPECT_EQ_STR(ours, libc);
  }
  for (const char* text : {"::", "::1", "::ffff:0.0.0.0", "::ffff:1.2.3.4", "::1.2.3.4", "::0.0.1.0", "1::",
                           "1:0:0:1::", "0:0:1::", "::ffff:0:1.2.3.4", "64:ff9b::1.2.3.4", "::1:0:0:1"}) {
    EXPECT(inet_pton(AF_INET6, text, a) == 1);
    proxy_detail::FormatIPv6(a, ours);
    inet_ntop(AF_INET6, a, libc, sizeof libc);
    EXPECT_EQ_STR(ours, libc);
  }
}

TEST(port_text) {
  uint16_t p = 1;
  EXPECT(proxy_detail::ParsePortText("0", 1, &p) && p == 0);
  EXPECT(proxy_detail::ParsePortText("65535", 5, &p) && p == 65535);
  EXPECT(proxy_detail::ParsePortText("443", 3, &p) && p == 443);
  for (const char* bad : {"", "65536", "99999", "00", "080", "-1", "+1", "1a", "123456", " 1"})
    EXPECT_MSG(!proxy_detail::ParsePortText(bad, std::strlen(bad), &p), bad);
}

TEST(v1_tcp4_then_request_bytes) {
  const std::string line = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
  const Bytes in = B(line + "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ProxyParser p;
  EXPECT(p.Feed(in.data(), in.size()) == line.size());
  EXPECT(p.status() == ProxyParser::kDone);
  const ProxyHeader& h = p.header();
  EXPECT(h.version == 1 && h.command == ProxyCommand::kProxy && h.family == ProxyFamily::kInet);
  EXPECT(h.transport == ProxyTransport::kStream && h.size == line.size() && h.HasAddresses());
  EXPECT_EQ_STR(h.source.host, "192.168.0.1");
  EXPECT_EQ_STR(h.destination.host, "192.168.0.11");
  EXPECT(h.source.port == 56324 && h.destination.port == 443);
  EXPECT(!h.tlvs && !h.alpn && !h.ssl.present);
  Parse(in);
}

TEST(v1_tcp6_forms) {
  Parsed longest(B("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                   "65535 65535\r\n"));
  EXPECT(longest.ok() && longest.h().size == 104);
  EXPECT_EQ_STR(longest.h().source.host, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  Parsed short_form(B("PROXY TCP6 2001:DB8:0:0::1 ::ffff:192.0.2.7 0 8080\r\n"));
  EXPECT(short_form.ok() && short_form.h().family == ProxyFamily::kInet6);
  // Hosts are shown as inet_ntop writes them, whatever the sender's form.
  EXPECT_EQ_STR(short_form.h().source.host, "2001:db8::1");
  EXPECT_EQ_STR(short_form.h().destination.host, "::ffff:192.0.2.7");
  EXPECT(short_form.h().source.port == 0 && short_form.h().destination.port == 8080);
}

TEST(v1_unknown) {
  Parsed bare(B("PROXY UNKNOWN\r\n"));
  EXPECT(bare.ok() && bare.h().v1_unknown && bare.h().command == ProxyCommand::kLocal);
  EXPECT(!bare.h().HasAddresses() && bare.h().family == ProxyFamily::kUnspec && bare.h().size == 15);
  // "the receiver must ignore anything presented before the CRLF"
  Parsed rest(B("PROXY UNKNOWN ffff:f...f:ffff junk \x01\x02 65535\r\nDATA"));
  EXPECT(rest.ok() && rest.h().v1_unknown && !rest.h().HasAddresses());
  // The worst case of 2.1: 107 bytes.
  const std::string worst = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
  EXPECT(worst.size() == 107);
  Parsed w(B(worst + "x"));
  EXPECT(w.ok() && w.h().size == 107);
}

TEST(v1_errors) {
  ExpectError("GET / HTTP/1.1\r\n", ProxyError::kSignature, "it starts with 0x47 'G'");
  ExpectError("PROXZ TCP4", ProxyError::kSignature, "byte 4 is 0x5a 'Z'");
  ExpectError("proxy TCP4", ProxyError::kSignature, "it starts with 0x70 'p'");
  ExpectError("PROXY\tTCP4", ProxyError::kSignature, "byte 5 is 0x09");
  ExpectError("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", ProxyError::kV1Token, "protocol \"TCP5\"");
  ExpectError("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", ProxyError::kV1Token, "protocol \"tcp4\"");
  ExpectError("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", ProxyError::kV1Token, "protocol \"\"");
  ExpectError("PROXY UNKNOWNX\r\n", ProxyError::kV1Token, "\"UNKNOWNX\"");
  ExpectError("PROXY \r\n", ProxyError::kV1Token, "protocol \"\"");
  ExpectError("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", ProxyError::kV1Line, "LF without CR at byte 30");
  ExpectError("PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n", ProxyError::kV1Line, "CR not followed by LF at byte 18");
  ExpectError("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", ProxyError::kV1Line, "CR not followed by LF");
  ExpectError("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", ProxyError::kV1Line, "empty destination address");
  ExpectError("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", ProxyError::kV1Line, "extra data");
  ExpectError("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", ProxyError::kV1Line, "extra data after the destination port: \" 3\"");
  ExpectError("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", ProxyError::kV1Line, "ends before the destination port");
  ExpectError("PROXY TCP4\r\n", ProxyError::kV1Line, "ends before the source address");
  ExpectError("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", ProxyError::kV1Port, "bad source port \"01\"");
  ExpectError("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", ProxyError::kV1Port, "bad destination port \"65536\"");
  ExpectError("PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n", ProxyError::kV1Address, "bad source address \"1.2.3.04\"");
  ExpectError("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", ProxyError::kV1Address, "for TCP4");
  ExpectError("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", ProxyError::kV1Address, "bad source address \"1.2.3.4\" for TCP6");
  ExpectError("PROXY TCP6 ::1 fe80::1%eth0 1 2\r\n", ProxyError::kV1Address, "\"fe80::1%eth0\"");
  ExpectError(B(std::string("PROXY TCP4 1.2.3.4\x00 5.6.7.8 1 2\r\n", 33)), ProxyError::kV1Address,
              "\"1.2.3.4\\x00\"");
  // No CRLF within 107 bytes: fails at the 107th byte, without waiting.
  const std::string long_line = "PROXY UNKNOWN " + std::string(92, 'x') + "\r\n";  // 108
  ExpectError(long_line, ProxyError::kTooLong, "no CRLF in the first 107 bytes");
  {
    ProxyParser at106({ProxyMode::kV1});
    EXPECT(at106.Feed(B(long_line).data(), 106) == 106);
    EXPECT(at106.WantedSize() == 1 && at106.SafeReadSize() == 1);
  }
  ProxyParser p;
  const Bytes in = B(long_line);
  EXPECT(p.Feed(in.data(), 107) == 107 && p.status() == ProxyParser::kFailed);
  ExpectError("PROXY TCP4 1.2.3.4 5.6.7.8 1 2", ProxyError::kTruncated, "before the CRLF");
  ExpectError("", ProxyError::kTruncated, "before the header began");
}

TEST(v2_tcp4_proxy) {
  const Bytes h = V2(0x21, 0x11, Inet4("192.0.2.1", "198.51.100.2", 56324, 443));
  EXPECT(h.size() == 28);
  const Bytes in = Cat({h, B("\x16\x03\x01 TLS hello")});
  ProxyParser p;
  EXPECT(p.Feed(in.data(), in.size()) == 28 && p.status() == ProxyParser::kDone);
  const ProxyHeader& x = p.header();
  EXPECT(x.version == 2 && x.command == ProxyCommand::kProxy && x.family == ProxyFamily::kInet);
  EXPECT(x.transport == ProxyTransport::kStream && x.size == 28);
  EXPECT_EQ_STR(x.source.host, "192.0.2.1");
  EXPECT_EQ_STR(x.destination.host, "198.51.100.2");
  EXPECT(x.source.port == 56324 && x.destination.port == 443);
  EXPECT(x.tlvs && x.tlvs.size == 0);
  Parse(in);
  Parsed udp(V2(0x21, 0x12, Inet4("10.0.0.1", "10.0.0.2", 53, 5353)));
  EXPECT(udp.ok() && udp.h().transport == ProxyTransport::kDgram && udp.h().source.port == 53);
}

TEST(v2_tcp6_proxy) {
  Parsed p(V2(0x21, 0x21, Inet6("2001:db8::1", "::ffff:192.0.2.9", 1, 65535)));
  EXPECT(p.ok() && p.h().family == ProxyFamily::kInet6 && p.h().size == 52);
  EXPECT_EQ_STR(p.h().source.host, "2001:db8::1");
  EXPECT_EQ_STR(p.h().destination.host, "::ffff:192.0.2.9");
  EXPECT(p.h().source.port == 1 && p.h().destination.port == 65535);
}

TEST(v2_unix) {
  Parsed p(V2(0x21, 0x31, Unix(B("/run/haproxy/client.sock"), Bytes{0, 'a', 'b', 's'})));
  EXPECT(p.ok() && p.h().family == ProxyFamily::kUnix && p.h().transport == ProxyTransport::kStream);
  EXPECT_EQ_STR(S(p.h().source.unix_path), "/run/haproxy/client.sock");
  EXPECT_EQ_STR(S(p.h().destination.unix_path), std::string("\0abs", 4));
  EXPECT_EQ_STR(p.h().source.host, "");
  Parsed unnamed(V2(0x21, 0x32, Unix(Bytes{}, Bytes(108, 'p'))));
  EXPECT(unnamed.ok() && unnamed.h().transport == ProxyTransport::kDgram);
  EXPECT(unnamed.h().source.unix_path && unnamed.h().source.unix_path.size == 0);
  EXPECT(unnamed.h().destination.unix_path.size == 108);  // no NUL: all of sun_path
  Bytes inner_nul = B("/a");
  inner_nul.push_back(0);
  inner_nul.push_back('b');
  Parsed cut(V2(0x21, 0x31, Unix(inner_nul, B("/x"))));
  EXPECT_EQ_STR(S(cut.h().source.unix_path), "/a");
}

TEST(v2_local_and_unspec) {
  Parsed local(V2(0x20, 0x00, {}));
  EXPECT(local.ok() && local.h().command == ProxyCommand::kLocal && !local.h().HasAddresses());
  EXPECT(local.h().size == 16);
  // LOCAL with an address block: skipped ("discard the protocol block"),
  // the TLVs after it are read.
  Parsed local_addr(V2(0x20, 0x11, Cat({Inet4("1.2.3.4", "5.6.7.8", 1, 2), Tlv(kPp2TypeAuthority, B("h"))})));
  EXPECT(local_addr.ok() && !local_addr.h().HasAddresses() && local_addr.h().family == ProxyFamily::kInet);
  EXPECT_EQ_STR(local_addr.h().source.host, "");
  EXPECT_EQ_STR(S(local_addr.h().authority), "h");
  // PROXY over UNSPEC: no addresses; every byte after the fixed part is TLVs.
  Parsed unspec(V2(0x21, 0x00, Tlv(kPp2TypeNoop, {})));
  EXPECT(unspec.ok() && unspec.h().command == ProxyCommand::kProxy && !unspec.h().HasAddresses());
}

TEST(v2_tlvs_as_haproxy_sends_them) {
  const Bytes ssl_value = Cat({Bytes{0x07, 0, 0, 0, 0},  // SSL | CERT_CONN | CERT_SESS, verified
                               Tlv(kPp2SubtypeSslVersion, B("TLSv1.3")), Tlv(kPp2SubtypeSslCn, B("client.example")),
                               Tlv(kPp2SubtypeSslCipher, B("TLS_AES_256_GCM_SHA384")),
                               Tlv(kPp2SubtypeSslSigAlg, B("RSA-SHA256")), Tlv(kPp2SubtypeSslKeyAlg, B("RSA2048")),
                               Tlv(0x2f, B("?"))});
  const Bytes body = Cat({Inet4("203.0.113.5", "192.0.2.80", 40000, 443), Tlv(kPp2TypeAlpn, B("h2")),
                          Tlv(kPp2TypeAuthority, B("www.example.com")), Tlv(kPp2TypeUniqueId, B("abc-123")),
                          Tlv(kPp2TypeSsl, ssl_value), Tlv(kPp2TypeNetns, B("blue")), Tlv(kPp2TypeNoop, Bytes(3)),
                          Tlv(0xE0, B("custom")), Tlv(kPp2TypeNoop, B("x"))});
  const Bytes h = WithCrc(V2(0x21, 0x11, body));
  Parsed p(h);
  EXPECT_MSG(p.ok(), p.message());
  const ProxyHeader& x = p.h();
  EXPECT_EQ_STR(S(x.alpn), "h2");
  EXPECT_EQ_STR(S(x.authority), "www.example.com");
  EXPECT_EQ_STR(S(x.unique_id), "abc-123");
  EXPECT_EQ_STR(S(x.netns), "blue");
  EXPECT(x.has_crc32c);
  EXPECT(x.ssl.present && x.ssl.client == 7 && x.ssl.verify == 0);
  EXPECT_EQ_STR(S(x.ssl.version), "TLSv1.3");
  EXPECT_EQ_STR(S(x.ssl.cn), "client.example");
  EXPECT_EQ_STR(S(x.ssl.cipher), "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ_STR(S(x.ssl.sig_alg), "RSA-SHA256");
  EXPECT_EQ_STR(S(x.ssl.key_alg), "RSA2048");
  // All TLVs, in order, known or not.
  std::vector<int> types;
  ProxyTlvReader r(x.tlvs);
  ProxyTlv t;
  while (r.Next(&t)) types.push_back(t.type);
  EXPECT((types == std::vector<int>{1, 2, 5, 0x20, 0x30, 4, 0xE0, 4, 3}));
  std::vector<int> subs;
  ProxyTlvReader rs(x.ssl.sub_tlvs);
  while (rs.Next(&t)) subs.push_back(t.type);
  EXPECT((subs == std::vector<int>{0x21, 0x22, 0x23, 0x24, 0x25, 0x2f}));
  // An empty TLV is present, with size 0.
  Parsed empty(V2(0x21, 0x11, Cat({Inet4("1.1.1.1", "2.2.2.2", 1, 2), Tlv(kPp2TypeUniqueId, {})})));
  EXPECT(empty.ok() && empty.h().unique_id && empty.h().unique_id.size == 0 && !empty.h().alpn);
  Parsed uid128(V2(0x21, 0x11, Cat({Inet4("1.1.1.1", "2.2.2.2", 1, 2), Tlv(kPp2TypeUniqueId, Bytes(128, 'u'))})));
  EXPECT(uid128.ok() && uid128.h().unique_id.size == 128);
}

TEST(v2_crc32c) {
  Bytes h = WithCrc(V2(0x21, 0x11, Inet4("1.2.3.4", "5.6.7.8", 1000, 80)));
  EXPECT(Parsed(h).ok());
  // Any flipped bit after the fixed part is caught, but in the CRC TLV's
  // type byte: 0x13 is a TLV of an unknown type, and no checksum is left.
  for (size_t i = 16; i < h.size(); ++i) {
    if (i == 28) continue;
    Bytes bad = h;
    bad[i] ^= 0x10;
    Parsed p(bad);
    EXPECT_MSG(!p.ok(), std::to_string(i));
  }
  Bytes bad = h;
  bad[h.size() - 1] ^= 1;
  ExpectError(bad, ProxyError::kChecksum, "PP2_TYPE_CRC32C is 0x");
  ExpectError(V2(0x21, 0x00, Tlv(kPp2TypeCrc32c, Bytes(3))), ProxyError::kTlvValue, "CRC32C of 3 bytes (must be 4)");
  // A LOCAL header is checked too.
  Bytes local = WithCrc(V2(0x20, 0x00, {}));
  EXPECT(Parsed(local).ok());
  local[local.size() - 2] ^= 0xff;
  ExpectError(local, ProxyError::kChecksum, "CRC32C");
}

TEST(v2_errors) {
  const Bytes a4 = Inet4("1.2.3.4", "5.6.7.8", 1, 2);
  Bytes sig = V2(0x21, 0x11, a4);
  sig[7] = 'q';
  ExpectError(sig, ProxyError::kSignature, "byte 7 is 0x71 'q' where the v2 signature has 0x51");
  ExpectError(V2(0x11, 0x11, a4), ProxyError::kVersion, "version 1");
  ExpectError(V2(0x31, 0x11, a4), ProxyError::kVersion, "version 3");
  ExpectError(V2(0x22, 0x11, a4), ProxyError::kCommand, "command 2");
  ExpectError(V2(0x2f, 0x11, a4), ProxyError::kCommand, "command 15");
  ExpectError(V2(0x21, 0x41, a4), ProxyError::kFamily, "address family 4");
  ExpectError(V2(0x21, 0x13, a4), ProxyError::kFamily, "transport 3");
  ExpectError(V2(0x21, 0x10, a4), ProxyError::kFamily, "family and transport 0x10");
  ExpectError(V2(0x21, 0x01, a4), ProxyError::kFamily, "family and transport 0x01");
  ExpectError(V2(0x21, 0x11, Bytes(11)), ProxyError::kLength, "length 11 too short for the addresses of TCP over IPv4 (12");
  ExpectError(V2(0x21, 0x21, Bytes(35)), ProxyError::kLength, "TCP over IPv6 (36");
  ExpectError(V2(0x21, 0x31, Bytes(215)), ProxyError::kLength, "UNIX stream (216");
  ExpectError(V2(0x20, 0x32, Bytes(12)), ProxyError::kLength, "UNIX datagram");
}

TEST(v2_tlv_errors) {
  const Bytes a4 = Inet4("1.2.3.4", "5.6.7.8", 1, 2);
  ExpectError(V2(0x21, 0x11, Cat({a4, Bytes{0x04, 0x00}})), ProxyError::kTlv, "2 byte(s) after the last TLV");
  ExpectError(V2(0x21, 0x11, Cat({a4, Bytes{0x02, 0x00, 0x05, 'a'}})), ProxyError::kTlv,
              "TLV 0x02 at byte 28 has length 5, 4 byte(s) past the end of the header");
  ExpectError(V2(0x21, 0x11, Cat({a4, Tlv(kPp2TypeAuthority, B("a")), Tlv(kPp2TypeAuthority, B("b"))})),
              ProxyError::kTlvValue, "a second PP2_TYPE_AUTHORITY TLV");
  ExpectError(V2(0x21, 0x11, Cat({a4, Tlv(kPp2TypeUniqueId, Bytes(129))})), ProxyError::kTlvValue,
              "UNIQUE_ID of 129 bytes (at most 128)");
  ExpectError(V2(0x21, 0x11, Cat({a4, Tlv(kPp2TypeSsl, Bytes(4))})), ProxyError::kTlvValue,
              "PP2_TYPE_SSL of 4 bytes");
  ExpectError(V2(0x21, 0x11, Cat({a4, Tlv(kPp2TypeSsl, Cat({Bytes(5), Bytes{0x21, 0x00, 0x09, 'x'}}))})),
              ProxyError::kTlv, "SSL sub-TLV 0x21 at byte 36 has length 9");
  ExpectError(V2(0x21, 0x11, Cat({a4, Tlv(kPp2TypeSsl, Cat({Bytes(5), Bytes{0x21}}))})), ProxyError::kTlv,
              "1 byte(s) after the last sub-TLV");
  ExpectError(V2(0x21, 0x11, Cat({a4, Tlv(kPp2TypeSsl, Cat({Bytes(5), Tlv(kPp2SubtypeSslCn, B("a")),
                                                             Tlv(kPp2SubtypeSslCn, B("b"))}))})),
              ProxyError::kTlvValue, "a second PP2_SUBTYPE_SSL_CN sub-TLV");
  ExpectError(V2(0x21, 0x11, Cat({a4, Tlv(kPp2TypeSsl, Bytes(5)), Tlv(kPp2TypeSsl, Bytes(5))})),
              ProxyError::kTlvValue, "a second PP2_TYPE_SSL TLV");
  ExpectError(WithCrc(WithCrc(V2(0x21, 0x11, a4))), ProxyError::kTlvValue, "a second PP2_TYPE_CRC32C");
  // Repeated NOOPs and unknown types are fine.
  EXPECT(Parsed(V2(0x21, 0x11, Cat({a4, Tlv(4, {}), Tlv(4, {}), Tlv(0xF0, {}), Tlv(0xF0, {})}))).ok());
}

TEST(modes) {
  const Bytes v1 = B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
  const Bytes v2 = V2(0x21, 0x11, Inet4("1.2.3.4", "5.6.7.8", 1, 2));
  EXPECT(Parsed(v1, {ProxyMode::kV1}).ok());
  EXPECT(Parsed(v2, {ProxyMode::kV2}).ok());
  EXPECT(Parsed(v1, {ProxyMode::kAny}).ok());
  EXPECT(Parsed(v2, {ProxyMode::kAny}).ok());
  ExpectError(v2, ProxyError::kSignature, "not a PROXY protocol v1 header: it starts with 0x0d, not \"PROXY \" (a v2 header?)",
              {ProxyMode::kV1});
  ExpectError(v1, ProxyError::kSignature, "not a PROXY protocol v2 header: it starts with 0x50 'P', not the v2 signature (a v1 header?)",
              {ProxyMode::kV2});
}

TEST(v2_length_cap) {
  const Bytes a4 = Inet4("1.2.3.4", "5.6.7.8", 1, 2);
  // 3000 bytes of NOOP: larger than the parser's inline buffer.
  const Bytes big = V2(0x21, 0x11, Cat({a4, Tlv(kPp2TypeNoop, Bytes(2985))}));
  EXPECT(big.size() == 3016);
  Parsed p(Cat({big, B("rest")}));
  EXPECT(p.ok() && p.h().size == 3016);
  ProxyOptions small;
  small.max_v2_length = 100;
  ExpectError(big, ProxyError::kTooLong, "length 3000 above the limit of 100", small);
  // Rejected at the 16th byte, before the body arrives.
  ProxyParser early(small);
  EXPECT(early.Feed(big.data(), 16) == 16 && early.status() == ProxyParser::kFailed);
  // The default cap: 16368.
  ExpectError(V2(0x21, 0x00, Tlv(kPp2TypeNoop, Bytes(16366))), ProxyError::kTooLong, "length 16369 above the limit of 16368");
  EXPECT(Parsed(V2(0x21, 0x00, Tlv(kPp2TypeNoop, Bytes(16365)))).ok());
  // The protocol's maximum, when allowed (a larger option is clamped to it).
  ProxyOptions max;
  max.max_v2_length = 1 << 20;
  ProxyParser huge(max);
  const Bytes h = V2(0x21, 0x00, Tlv(kPp2TypeNoop, Bytes(65532)));
  EXPECT(h.size() == 65551);
  EXPECT(huge.Feed(h.data(), h.size()) == h.size() && huge.status() == ProxyParser::kDone);
}

TEST(truncated) {
  const Bytes h = WithCrc(V2(0x21, 0x21, Inet6("::1", "::2", 1, 2)));
  for (size_t n = 0; n < h.size(); ++n) {
    ProxyParser p;
    EXPECT(p.Feed(h.data(), n) == n && p.status() == ProxyParser::kNeedMore);
    EXPECT(p.Finish() == ProxyParser::kFailed && p.error().code == ProxyError::kTruncated);
    ProxyHeader x;
    ProxyErrorInfo e;
    EXPECT(!ProxyParser::ParseComplete(h.data(), n, {}, &x, &e) && e.code == ProxyError::kTruncated);
  }
  ExpectError(Bytes(h.begin(), h.begin() + 10), ProxyError::kTruncated, "after 10 of the 16 bytes of the fixed part");
  ExpectError(Bytes(h.begin(), h.begin() + 30), ProxyError::kTruncated, "after 30 of the header's 59 bytes");
}

// A caller that read()s only SafeReadSize() bytes at a time never takes a
// byte of the request; one that reads WantedSize() needs few reads.
TEST(read_sizes) {
  const std::vector<Bytes> headers = {
      B("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
      B("PROXY UNKNOWN\r\n"),
      B("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ::1 65535 65535\r\n"),
      V2(0x21, 0x11, Inet4("1.2.3.4", "5.6.7.8", 1, 2)),
      V2(0x20, 0x00, {}),
      WithCrc(V2(0x21, 0x31, Unix(B("/a"), B("/b")))),
  };
  for (const Bytes& h : headers) {
    for (ProxyMode mode : {ProxyMode::kAny, h[0] == 'P' ? ProxyMode::kV1 : ProxyMode::kV2}) {
      const Bytes in = Cat({h, B("REQUEST")});
      ProxyParser p({mode});
      size_t at = 0, reads = 0;
      while (p.status() == ProxyParser::kNeedMore && reads < 200) {
        const size_t n = p.SafeReadSize();
        EXPECT(n > 0 && at + n <= h.size());
        EXPECT(p.Feed(in.data() + at, n) == n);
        at += n, ++reads;
      }
      EXPECT(p.status() == ProxyParser::kDone && p.consumed() == h.size() && at == h.size());
      EXPECT(p.SafeReadSize() == 0 && p.WantedSize() == 0);
      // Never more than the header could still take (found by the fuzzer:
      // 106 bytes of a v1 line, the last not a CR, once gave 2).
      ProxyParser r({mode});
      for (size_t i = 0; i < h.size() && r.status() == ProxyParser::kNeedMore; ++i) {
        EXPECT(r.SafeReadSize() > 0 && r.SafeReadSize() <= r.WantedSize());
        r.Feed(h.data() + i, 1);
      }
      // Reading WantedSize(): v2 in at most 2 reads after the first, v1 in one.
      ProxyParser q({mode});
      at = 0, reads = 0;
      while (q.status() == ProxyParser::kNeedMore && reads < 10) {
        const size_t n = std::min(q.WantedSize(), in.size() - at);
        at += q.Feed(in.data() + at, n), ++reads;
      }
      EXPECT(q.status() == ProxyParser::kDone && q.consumed() == h.size());
      EXPECT_MSG(reads <= 2, std::to_string(reads));
    }
  }
}

TEST(parse_complete_points_into_the_input) {
  const Bytes dgram = Cat({V2(0x21, 0x12, Cat({Inet4("1.2.3.4", "5.6.7.8", 1, 2), Tlv(kPp2TypeAlpn, B("dns"))})),
                           B("payload")});
  ProxyHeader h;
  ProxyErrorInfo e;
  EXPECT(ProxyParser::ParseComplete(dgram.data(), dgram.size(), {ProxyMode::kV2}, &h, &e));
  EXPECT(h.size == dgram.size() - 7 && h.alpn.data == dgram.data() + 31);
  EXPECT_EQ_STR(S(h.alpn), "dns");
}

Bytes FromHex(const char* hex) {
  Bytes b;
  for (size_t i = 0; hex[i] && hex[i + 1]; i += 2) b.push_back(static_cast<uint8_t>(std::stoi(std::string(hex + i, 2), nullptr, 16)));
  return b;
}

// Headers HAProxy 2.6.12 (Debian 12) sent to a server, each followed by
// the client's "hello\n" (native/fuzz/make_seeds.py has them all).
TEST(haproxy_captures) {
  // send-proxy, client over IPv6
  Parsed v1(FromHex(
      "50524f58592054435036203a3a31203a3a3120333838313820383030320d0a68656c6c6f0a"));
  EXPECT(v1.ok() && v1.h().size == 31 && v1.h().family == ProxyFamily::kInet6);
  EXPECT_EQ_STR(v1.h().source.host, "::1");
  EXPECT(v1.h().source.port == 38818 && v1.h().destination.port == 8002);
  // send-proxy-v2 proxy-v2-options crc32c, client on a Unix socket: LOCAL
  // over UNSPEC, with TLVs.
  Parsed local(FromHex(
      "0d0a0d0a000d0a515549540a20000007030004a9b87e8f68656c6c6f0a"));
  EXPECT(local.ok() && local.h().command == ProxyCommand::kLocal && local.h().size == 23);
  EXPECT(local.h().has_crc32c && !local.h().HasAddresses());
  // send-proxy-v2 proxy-v2-options ssl,cert-cn,ssl-cipher,cert-sig,cert-key,
  // authority,crc32c,unique-id; TLS client with ALPN h2 and a certificate.
  const Bytes in = FromHex(
      "0d0a0d0a000d0a515549540a211100ae7f0000017f000001a5e820fd030004a6de2ef2010002683202000f7777772e65"
      "78616d706c652e636f6d05002e37463030303030313a413545385f37463030303030313a323046445f36423134454641"
      "465f303030393a303332452000500700000000210007544c5376312e3322000e636c69656e742e6578616d706c652500"
      "075253413230343824000a5253412d534841323536230016544c535f4145535f3235365f47434d5f5348413338346865"
      "6c6c6f0a");
  Parsed all(in);
  EXPECT_MSG(all.ok(), all.message());
  const ProxyHeader& h = all.h();
  EXPECT(h.size == 190 && h.size == in.size() - 6 && h.has_crc32c);
  EXPECT_EQ_STR(h.source.host, "127.0.0.1");
  EXPECT(h.destination.port == 8445);
  EXPECT_EQ_STR(S(h.alpn), "h2");
  EXPECT_EQ_STR(S(h.authority), "www.example.com");
  EXPECT(h.unique_id.size == 46);
  EXPECT(h.ssl.present && h.ssl.client == (kPp2ClientSsl | kPp2ClientCertConn | kPp2ClientCertSess));
  EXPECT(h.ssl.verify == 0);
  EXPECT_EQ_STR(S(h.ssl.version), "TLSv1.3");
  EXPECT_EQ_STR(S(h.ssl.cn), "client.example");
  EXPECT_EQ_STR(S(h.ssl.cipher), "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ_STR(S(h.ssl.sig_alg), "RSA-SHA256");
  EXPECT_EQ_STR(S(h.ssl.key_alg), "RSA2048");
}

// ---- microbenchmark ----

void Bench() {
  const Bytes ssl_value = Cat({Bytes{0x01, 0, 0, 0, 0}, Tlv(kPp2SubtypeSslVersion, B("TLSv1.3")),
                               Tlv(kPp2SubtypeSslCipher, B("TLS_AES_256_GCM_SHA384")),
                               Tlv(kPp2SubtypeSslSigAlg, B("RSA-SHA256")), Tlv(kPp2SubtypeSslKeyAlg, B("RSA2048"))});
  struct Case {
    const char* name;
    Bytes bytes;
  };
  const std::vector<Case> cases = {
      {"v1 TCP4", B("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n")},
      {"v1 TCP6 (104 bytes)",
       B("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n")},
      {"v1 UNKNOWN", B("PROXY UNKNOWN\r\n")},
      {"v2 TCP4", V2(0x21, 0x11, Inet4("192.0.2.1", "198.51.100.2", 56324, 443))},
      {"v2 TCP6", V2(0x21, 0x21, Inet6("2001:db8::1", "2001:db8::2", 56324, 443))},
      {"v2 LOCAL", V2(0x20, 0x00, {})},
      {"v2 TCP4 + ssl, authority, unique-id, crc32c",
       WithCrc(V2(0x21, 0x11, Cat({Inet4("192.0.2.1", "198.51.100.2", 56324, 443), Tlv(kPp2TypeAlpn, B("h2")),
                                   Tlv(kPp2TypeAuthority, B("www.example.com")),
                                   Tlv(kPp2TypeUniqueId, B("7F000001:C4E2_0A000001:01BB_6560E1B2_0001:1F2E")),
                                   Tlv(kPp2TypeSsl, ssl_value)})))},
  };
  std::printf("%-46s %6s %10s %10s\n", "header", "bytes", "ns/parse", "ns/byte");
  for (const Case& c : cases) {
    const int kIters = 2000000;
    size_t sink = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kIters; ++i) {
      ProxyParser p;
      sink += p.Feed(c.bytes.data(), c.bytes.size());
      sink += p.header().source.port;
    }
    const auto t1 = std::chrono::steady_clock::now();
    const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / kIters;
    if (sink == 0) std::printf("?");
    std::printf("%-46s %6zu %10.1f %10.2f\n", c.name, c.bytes.size(), ns, ns / static_cast<double>(c.bytes.size()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--bench") == 0) {
    Bench();
    return 0;
  }
  for (const TestCase& t : Tests()) {
    if (argc > 1 && std::strstr(t.name, argv[1]) == nullptr) continue;
    g_test = t.name;
    const int before = g_failures;
    t.fn();
    std::printf("%s %s\n", g_failures == before ? "ok  " : "FAIL", t.name);
  }
  std::printf("%d checks, %d failed\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
