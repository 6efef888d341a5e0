#include "proxy_protocol.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <new>

namespace socketserver {

namespace {

constexpr uint8_t kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr char kV1Prefix[] = "PROXY ";
constexpr size_t kV1PrefixSize = sizeof kV1Prefix - 1;
constexpr size_t kTlvHeaderSize = 3;  // type, length (2 bytes, big-endian)
constexpr size_t kSslFixedSize = 5;   // client (1), verify (4)

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

uint32_t Be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Untrusted bytes in a message: quoted, printable ASCII as is, the rest as
// \xNN, cut with "..." so that the message stays short.
void Quote(const uint8_t* s, size_t n, char* out, size_t cap) {
  size_t o = 0;
  auto put = [&](char c) {
    if (o + 1 < cap) out[o++] = c;
  };
  put('"');
  for (size_t i = 0; i < n; ++i) {
    if (o + 10 >= cap) {
      put('.'), put('.'), put('.');
      break;
    }
    const uint8_t c = s[i];
    if (c == '"' || c == '\\') {
      put('\\'), put(static_cast<char>(c));
    } else if (c >= 0x20 && c < 0x7f) {
      put(static_cast<char>(c));
    } else {
      static const char kHex[] = "0123456789abcdef";
      put('\\'), put('x'), put(kHex[c >> 4]), put(kHex[c & 15]);
    }
  }
  put('"');
  out[o] = '\0';
}

// "0x47 'G'" or "0x0d".
void DescribeByte(uint8_t c, char* out, size_t cap) {
  if (c >= 0x20 && c < 0x7f && c != '\'')
    std::snprintf(out, cap, "0x%02x '%c'", c, c);
  else
    std::snprintf(out, cap, "0x%02x", c);
}

struct FamilyInfo {
  ProxyFamily family;
  ProxyTransport transport;
  size_t addr_len;  // source and destination addresses and ports
  const char* name;
};

bool LookUpFamily(uint8_t byte, FamilyInfo* info) {
  switch (byte) {
    case 0x00: *info = {ProxyFamily::kUnspec, ProxyTransport::kUnspec, 0, "UNSPEC"}; return true;
    case 0x11: *info = {ProxyFamily::kInet, ProxyTransport::kStream, 12, "TCP over IPv4"}; return true;
    case 0x12: *info = {ProxyFamily::kInet, ProxyTransport::kDgram, 12, "UDP over IPv4"}; return true;
    case 0x21: *info = {ProxyFamily::kInet6, ProxyTransport::kStream, 36, "TCP over IPv6"}; return true;
    case 0x22: *info = {ProxyFamily::kInet6, ProxyTransport::kDgram, 36, "UDP over IPv6"}; return true;
    case 0x31: *info = {ProxyFamily::kUnix, ProxyTransport::kStream, 2 * kProxyUnixAddrSize, "UNIX stream"}; return true;
    case 0x32: *info = {ProxyFamily::kUnix, ProxyTransport::kDgram, 2 * kProxyUnixAddrSize, "UNIX datagram"}; return true;
    default: return false;
  }
}

void SetInet(ProxyEndpoint* e, int family, const uint8_t* addr, const uint8_t* port) {
  std::memcpy(e->addr, addr, family == AF_INET ? 4 : 16);
  e->port = Be16(port);
  if (family == AF_INET)
    proxy_detail::FormatIPv4(e->addr, e->host);
  else
    proxy_detail::FormatIPv6(e->addr, e->host);
}

// A v2 Unix address (108 bytes, sun_path as the proxy had it).
ProxyBytes UnixName(const uint8_t* p) {
  if (p[0] != 0) {
    const void* nul = std::memchr(p, 0, kProxyUnixAddrSize);
    const size_t n = nul ? static_cast<size_t>(static_cast<const uint8_t*>(nul) - p) : kProxyUnixAddrSize;
    return {p, n};
  }
  size_t last = kProxyUnixAddrSize - 1;
  while (last > 0 && p[last] == 0) --last;
  return {p, last == 0 ? 0 : last + 1};
}

// Table for the byte-wise CRC32C (reflected polynomial 0x82F63B78).
struct Crc32cTable {
  uint32_t t[256];
  constexpr Crc32cTable() : t() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
  }
};
constexpr Crc32cTable kCrc32c;

const char* TlvName(uint8_t type) {
  switch (type) {
    case kPp2TypeAlpn: return "PP2_TYPE_ALPN";
    case kPp2TypeAuthority: return "PP2_TYPE_AUTHORITY";
    case kPp2TypeCrc32c: return "PP2_TYPE_CRC32C";
    case kPp2TypeUniqueId: return "PP2_TYPE_UNIQUE_ID";
    case kPp2TypeSsl: return "PP2_TYPE_SSL";
    case kPp2TypeNetns: return "PP2_TYPE_NETNS";
    case kPp2SubtypeSslVersion: return "PP2_SUBTYPE_SSL_VERSION";
    case kPp2SubtypeSslCn: return "PP2_SUBTYPE_SSL_CN";
    case kPp2SubtypeSslCipher: return "PP2_SUBTYPE_SSL_CIPHER";
    case kPp2SubtypeSslSigAlg: return "PP2_SUBTYPE_SSL_SIG_ALG";
    case kPp2SubtypeSslKeyAlg: return "PP2_SUBTYPE_SSL_KEY_ALG";
    default: return "TLV";
  }
}

}  // namespace

namespace proxy_detail {

bool ParseIPv4Text(const char* s, size_t n, uint8_t out[4]) noexcept {
  size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= n || s[i] != '.') return false;
      ++i;
    }
    if (i >= n || !IsDigit(s[i])) return false;
    // "0" alone; otherwise no leading zero (it would read as octal elsewhere).
    if (s[i] == '0' && i + 1 < n && IsDigit(s[i + 1])) return false;
    unsigned value = 0;
    size_t digits = 0;
    while (i < n && IsDigit(s[i])) {
      if (++digits > 3) return false;
      value = value * 10 + static_cast<unsigned>(s[i] - '0');
      ++i;
    }
    if (value > 255) return false;
    out[part] = static_cast<uint8_t>(value);
  }
  return i == n;
}

bool ParseIPv6Text(const char* s, size_t n, uint8_t out[16]) noexcept {
  uint8_t bytes[16] = {};
  size_t nb = 0;   // bytes written
  int gap = -1;    // where "::" stands, in bytes
  size_t i = 0;
  if (n < 2) return false;
  if (s[0] == ':') {
    if (s[1] != ':') return false;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    const size_t start = i;
    unsigned value = 0;
    while (i < n && HexValue(s[i]) >= 0 && i - start < 5) {
      value = value << 4 | static_cast<unsigned>(HexValue(s[i]));
      ++i;
    }
    if (i < n && s[i] == '.') {
      // The last 32 bits in dotted decimal.
      if (nb > 12 || !ParseIPv4Text(s + start, n - start, bytes + nb)) return false;
      nb += 4;
      i = n;
      break;
    }
    const size_t digits = i - start;
    if (digits == 0 || digits > 4 || nb == 16) return false;
    bytes[nb++] = static_cast<uint8_t>(value >> 8);
    bytes[nb++] = static_cast<uint8_t>(value);
    if (i == n) break;
    if (s[i] != ':') return false;
    ++i;
    if (i < n && s[i] == ':') {
      if (gap >= 0) return false;
      gap = static_cast<int>(nb);
      ++i;
    } else if (i == n) {
      return false;  // a single trailing colon
    }
  }
  if (gap >= 0) {
    if (nb == 16) return false;  // "::" must stand for at least one group
    const size_t tail = nb - static_cast<size_t>(gap);
    std::memmove(bytes + 16 - tail, bytes + gap, tail);
    std::memset(bytes + gap, 0, 16 - tail - static_cast<size_t>(gap));
  } else if (nb != 16) {
    return false;
  }
  std::memcpy(out, bytes, 16);
  return true;
}

bool ParsePortText(const char* s, size_t n, uint16_t* out) noexcept {
  if (n == 0 || n > 5 || (s[0] == '0' && n > 1)) return false;
  uint32_t value = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!IsDigit(s[i])) return false;
    value = value * 10 + static_cast<uint32_t>(s[i] - '0');
  }
  if (value > 65535) return false;
  *out = static_cast<uint16_t>(value);
  return true;
}

static char* FormatIPv4Into(const uint8_t in[4], char* out) {
  for (int i = 0; i < 4; ++i) {
    if (i > 0) *out++ = '.';
    const unsigned v = in[i];
    if (v >= 100) *out++ = static_cast<char>('0' + v / 100);
    if (v >= 10) *out++ = static_cast<char>('0' + v / 10 % 10);
    *out++ = static_cast<char>('0' + v % 10);
  }
  *out = '\0';
  return out;
}

void FormatIPv4(const uint8_t in[4], char out[16]) noexcept { FormatIPv4Into(in, out); }

void FormatIPv6(const uint8_t in[16], char out[46]) noexcept {
  // As glibc's inet_ntop writes it (RFC 5952 style): lower-case hex without
  // leading zeros; the longest run of two or more zero groups (the first of
  // equal ones) as "::"; an IPv4 tail for ::a.b.c.d and ::ffff:a.b.c.d.
  unsigned words[8];
  for (int i = 0; i < 8; ++i) words[i] = static_cast<unsigned>(in[2 * i] << 8 | in[2 * i + 1]);
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (words[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && words[j] == 0) ++j;
    if (j - i > best_len) best = i, best_len = j - i;
    i = j;
  }
  if (best_len < 2) best = -1;
  static const char kHex[] = "0123456789abcdef";
  char* o = out;
  for (int i = 0; i < 8; ++i) {
    if (best >= 0 && i >= best && i < best + best_len) {
      if (i == best) *o++ = ':';
      continue;
    }
    if (i != 0) *o++ = ':';
    if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xffff))) {
      FormatIPv4Into(in + 12, o);
      return;
    }
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const unsigned nibble = words[i] >> shift & 15;
      if (nibble != 0 || started || shift == 0) {
        *o++ = kHex[nibble];
        started = true;
      }
    }
  }
  if (best >= 0 && best + best_len == 8) *o++ = ':';
  *o = '\0';
}

uint32_t Crc32c(uint32_t crc, const uint8_t* data, size_t len) noexcept {
  crc = ~crc;
  for (size_t i = 0; i < len; ++i) crc = kCrc32c.t[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

}  // namespace proxy_detail

using proxy_detail::Crc32c;

const char* ProxyErrorName(ProxyError code) noexcept {
  switch (code) {
    case ProxyError::kNone: return "none";
    case ProxyError::kSignature: return "signature";
    case ProxyError::kVersion: return "version";
    case ProxyError::kCommand: return "command";
    case ProxyError::kFamily: return "family";
    case ProxyError::kLength: return "length";
    case ProxyError::kTooLong: return "too-long";
    case ProxyError::kV1Line: return "v1-line";
    case ProxyError::kV1Token: return "v1-token";
    case ProxyError::kV1Address: return "v1-address";
    case ProxyError::kV1Port: return "v1-port";
    case ProxyError::kTlv: return "tlv";
    case ProxyError::kTlvValue: return "tlv-value";
    case ProxyError::kChecksum: return "checksum";
    case ProxyError::kTruncated: return "truncated";
    case ProxyError::kNoMemory: return "no-memory";
  }
  return "unknown";
}

bool ProxyTlvReader::Next(ProxyTlv* tlv) noexcept {
  if (area_.size - off_ < kTlvHeaderSize) return false;
  const uint8_t* p = area_.data + off_;
  const size_t len = Be16(p + 1);
  if (len > area_.size - off_ - kTlvHeaderSize) return false;
  tlv->type = p[0];
  tlv->value = {p + kTlvHeaderSize, len};
  off_ += kTlvHeaderSize + len;
  return true;
}

ProxyParser::ProxyParser(ProxyOptions options) noexcept : options_(options) {
  options_.max_v2_length = std::min(options_.max_v2_length, kProxyV2ProtocolMaxLength);
}

ProxyParser::~ProxyParser() = default;

ProxyParser::Status ProxyParser::Fail(ProxyError code, size_t offset, const char* format, ...) noexcept {
  error_.code = code;
  error_.offset = offset;
  va_list args;
  va_start(args, format);
  std::vsnprintf(error_.message, sizeof error_.message, format, args);
  va_end(args);
  status_ = kFailed;
  return kFailed;
}

size_t ProxyParser::Limit() const noexcept {
  switch (kind_) {
    case Kind::kUndecided:
      return options_.mode == ProxyMode::kV2 ? kProxyV2FixedSize : kProxyV1MaxLine;
    case Kind::kV1:
      return kProxyV1MaxLine;
    case Kind::kV2:
      return pos_ < kProxyV2FixedSize ? kProxyV2FixedSize : total_;
  }
  return 0;
}

size_t ProxyParser::WantedSize() const noexcept {
  return status_ == kNeedMore ? Limit() - have_ : 0;
}

size_t ProxyParser::SafeReadSize() const noexcept {
  if (status_ != kNeedMore) return 0;
  switch (kind_) {
    case Kind::kUndecided:
      return options_.mode == ProxyMode::kV2 ? kProxyV2FixedSize : kProxyV1MinLine;
    case Kind::kV1: {
      if (have_ < kProxyV1MinLine) return kProxyV1MinLine - have_;
      // The CRLF, or its LF; never past the 107th byte, where the line
      // ends or fails.
      const uint8_t* buf = heap_ ? heap_.get() : inline_;
      return std::min<size_t>(buf[have_ - 1] == '\r' ? 1 : 2, kProxyV1MaxLine - have_);
    }
    case Kind::kV2:
      return Limit() - have_;
  }
  return 0;
}

bool ProxyParser::Reserve(size_t size) noexcept {
  if (heap_ ? size <= heap_size_ : size <= sizeof inline_) return true;
  std::unique_ptr<uint8_t[]> bigger(new (std::nothrow) uint8_t[size]);
  if (!bigger) return false;
  std::memcpy(bigger.get(), Buffer(), have_);
  heap_ = std::move(bigger);
  heap_size_ = size;
  return true;
}

size_t ProxyParser::Feed(const uint8_t* data, size_t len) noexcept {
  size_t taken = 0;
  while (status_ == kNeedMore && taken < len) {
    const size_t limit = Limit();
    if (!Reserve(limit)) {
      Fail(ProxyError::kNoMemory, have_, "v2: no memory for a header of %zu bytes", limit);
      break;
    }
    const size_t n = std::min(len - taken, limit - have_);
    std::memcpy(Buffer() + have_, data + taken, n);
    // Scan() examines the new bytes and stops at the header's end or at the
    // byte that made it fail: pos_ bytes are the header's, the rest of the
    // copy is not taken.
    const size_t before = have_;
    status_ = Scan(Buffer(), have_ + n);
    have_ = pos_;
    taken += pos_ - before;
  }
  return taken;
}

ProxyParser::Status ProxyParser::Finish() noexcept {
  if (status_ != kNeedMore) return status_;
  switch (kind_) {
    case Kind::kUndecided:
      return Fail(ProxyError::kTruncated, have_, "the input ended before the header began");
    case Kind::kV1:
      return Fail(ProxyError::kTruncated, have_,
                  "v1: the input ended after %zu bytes, before the CRLF that ends the header", have_);
    case Kind::kV2:
      if (pos_ < kProxyV2FixedSize)
        return Fail(ProxyError::kTruncated, have_,
                    "v2: the input ended after %zu of the 16 bytes of the fixed part", have_);
      return Fail(ProxyError::kTruncated, have_,
                  "v2: the input ended after %zu of the header's %zu bytes", have_, total_);
  }
  return status_;
}

bool ProxyParser::ParseComplete(const uint8_t* data, size_t len, const ProxyOptions& options,
                                ProxyHeader* header, ProxyErrorInfo* error) noexcept {
  ProxyParser parser(options);
  parser.status_ = parser.Scan(data, len);
  parser.have_ = parser.pos_;
  if (parser.Finish() == kDone) {
    *header = parser.header_;
    return true;
  }
  *error = parser.error_;
  return false;
}

ProxyParser::Status ProxyParser::Scan(const uint8_t* buf, size_t have) noexcept {
  if (kind_ == Kind::kUndecided) {
    if (have == 0) return kNeedMore;
    const uint8_t c = buf[0];
    if (options_.mode != ProxyMode::kV1 && c == kV2Signature[0]) {
      kind_ = Kind::kV2;
    } else if (options_.mode != ProxyMode::kV2 && c == 'P') {
      kind_ = Kind::kV1;
    } else {
      pos_ = 1;
      char got[16];
      DescribeByte(c, got, sizeof got);
      switch (options_.mode) {
        case ProxyMode::kV1:
          return Fail(ProxyError::kSignature, 0,
                      "not a PROXY protocol v1 header: it starts with %s, not \"PROXY \"%s", got,
                      c == kV2Signature[0] ? " (a v2 header?)" : "");
        case ProxyMode::kV2:
          return Fail(ProxyError::kSignature, 0,
                      "not a PROXY protocol v2 header: it starts with %s, not the v2 signature%s", got,
                      c == 'P' ? " (a v1 header?)" : "");
        case ProxyMode::kAny:
          break;
      }
      return Fail(ProxyError::kSignature, 0,
                  "not a PROXY protocol header: it starts with %s, not \"PROXY \" (v1) or the v2 signature",
                  got);
    }
  }
  return kind_ == Kind::kV1 ? ScanV1(buf, have) : ScanV2(buf, have);
}

ProxyParser::Status ProxyParser::ScanV1(const uint8_t* buf, size_t have) noexcept {
  while (pos_ < have) {
    const size_t at = pos_++;
    const uint8_t c = buf[at];
    if (at < kV1PrefixSize) {
      if (c != static_cast<uint8_t>(kV1Prefix[at])) {
        char got[16];
        DescribeByte(c, got, sizeof got);
        return Fail(ProxyError::kSignature, at,
                    "not a PROXY protocol v1 header: byte %zu is %s where \"PROXY \" has '%c'", at, got,
                    kV1Prefix[at]);
      }
    } else if (c == '\n') {
      if (buf[at - 1] != '\r')
        return Fail(ProxyError::kV1Line, at, "v1: LF without CR at byte %zu (the line ends with CRLF)", at);
      return ParseV1Line(buf, pos_);
    } else if (buf[at - 1] == '\r') {
      return Fail(ProxyError::kV1Line, at - 1, "v1: CR not followed by LF at byte %zu", at - 1);
    }
    if (pos_ == kProxyV1MaxLine)
      return Fail(ProxyError::kTooLong, at,
                  "v1: no CRLF in the first %zu bytes (the longest valid line)", kProxyV1MaxLine);
  }
  return kNeedMore;
}

ProxyParser::Status ProxyParser::ScanV2(const uint8_t* buf, size_t have) noexcept {
  while (pos_ < have && pos_ < kProxyV2FixedSize) {
    const size_t at = pos_++;
    const uint8_t c = buf[at];
    if (at < sizeof kV2Signature) {
      if (c != kV2Signature[at]) {
        char got[16];
        DescribeByte(c, got, sizeof got);
        return Fail(ProxyError::kSignature, at,
                    "not a PROXY protocol v2 header: byte %zu is %s where the v2 signature has 0x%02x", at,
                    got, kV2Signature[at]);
      }
    } else if (at == 12) {
      if (c >> 4 != 2)
        return Fail(ProxyError::kVersion, at, "v2: version %u (byte 12's high nibble must be 2)", c >> 4);
      if ((c & 0xf) > 1)
        return Fail(ProxyError::kCommand, at, "v2: command %u (byte 12's low nibble: 0 LOCAL or 1 PROXY)",
                    c & 0xf);
    } else if (at == 13) {
      FamilyInfo info;
      if (c >> 4 > 3)
        return Fail(ProxyError::kFamily, at,
                    "v2: address family %u (byte 13's high nibble: 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX)", c >> 4);
      if ((c & 0xf) > 2)
        return Fail(ProxyError::kFamily, at,
                    "v2: transport %u (byte 13's low nibble: 0 UNSPEC, 1 STREAM, 2 DGRAM)", c & 0xf);
      if (!LookUpFamily(c, &info))
        return Fail(ProxyError::kFamily, at,
                    "v2: family and transport 0x%02x (not one of 0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32)", c);
    } else if (at == 15) {
      const size_t len = Be16(buf + 14);
      FamilyInfo info;
      LookUpFamily(buf[13], &info);
      if (len > options_.max_v2_length)
        return Fail(ProxyError::kTooLong, 14, "v2: length %zu above the limit of %zu", len,
                    options_.max_v2_length);
      if (len < info.addr_len)
        return Fail(ProxyError::kLength, 14, "v2: length %zu too short for the addresses of %s (%zu bytes)",
                    len, info.name, info.addr_len);
      total_ = kProxyV2FixedSize + len;
    }
  }
  if (pos_ < kProxyV2FixedSize) return kNeedMore;
  pos_ = std::min(have, total_);
  if (pos_ < total_) return kNeedMore;
  return ParseV2(buf);
}

ProxyParser::Status ProxyParser::ParseV1Line(const uint8_t* buf, size_t len) noexcept {
  // buf[0, len) is "PROXY " ... CRLF, with no other CR or LF (ScanV1).
  const char* s = reinterpret_cast<const char*>(buf);
  const size_t end = len - 2;
  size_t p = kV1PrefixSize;
  char quoted[72];
  const size_t token = p;
  while (p < end && s[p] != ' ') ++p;
  const size_t token_len = p - token;
  auto is = [&](const char* word) {
    return token_len == std::strlen(word) && std::memcmp(s + token, word, token_len) == 0;
  };
  header_ = ProxyHeader();
  header_.version = 1;
  header_.size = len;
  if (is("UNKNOWN")) {
    // The rest of the line, if any, is to be ignored (2.1).
    header_.command = ProxyCommand::kLocal;
    header_.v1_unknown = true;
    return kDone;
  }
  bool v6;
  if (is("TCP4")) {
    v6 = false;
  } else if (is("TCP6")) {
    v6 = true;
  } else {
    Quote(buf + token, token_len, quoted, sizeof quoted);
    return Fail(ProxyError::kV1Token, token, "v1: protocol %s, not TCP4, TCP6 or UNKNOWN", quoted);
  }
  static const char* const kFields[] = {"source address", "destination address", "source port",
                                        "destination port"};
  for (int i = 0; i < 4; ++i) {
    if (p == end) return Fail(ProxyError::kV1Line, p, "v1: the line ends before the %s", kFields[i]);
    ++p;  // the space that stopped the previous field
    const size_t field = p;
    while (p < end && s[p] != ' ') ++p;
    const size_t n = p - field;
    if (n == 0)
      return Fail(ProxyError::kV1Line, field, "v1: empty %s (fields are separated by exactly one space)",
                  kFields[i]);
    ProxyEndpoint* e = (i % 2 == 0) ? &header_.source : &header_.destination;
    if (i < 2) {
      const bool ok = v6 ? proxy_detail::ParseIPv6Text(s + field, n, e->addr)
                         : proxy_detail::ParseIPv4Text(s + field, n, e->addr);
      if (!ok) {
        Quote(buf + field, n, quoted, sizeof quoted);
        return Fail(ProxyError::kV1Address, field, "v1: bad %s %s for %s", kFields[i], quoted,
                    v6 ? "TCP6 (an IPv6 address)"
                       : "TCP4 (four decimal numbers 0-255 without leading zeros)");
      }
      if (v6)
        proxy_detail::FormatIPv6(e->addr, e->host);
      else
        proxy_detail::FormatIPv4(e->addr, e->host);
    } else if (!proxy_detail::ParsePortText(s + field, n, &e->port)) {
      Quote(buf + field, n, quoted, sizeof quoted);
      return Fail(ProxyError::kV1Port, field, "v1: bad %s %s (a decimal 0-65535 without leading zeros)",
                  kFields[i], quoted);
    }
  }
  if (p != end) {
    Quote(buf + p, end - p, quoted, sizeof quoted);
    return Fail(ProxyError::kV1Line, p, "v1: extra data after the destination port: %s", quoted);
  }
  header_.command = ProxyCommand::kProxy;
  header_.family = v6 ? ProxyFamily::kInet6 : ProxyFamily::kInet;
  header_.transport = ProxyTransport::kStream;
  return kDone;
}

ProxyParser::Status ProxyParser::ParseV2(const uint8_t* buf) noexcept {
  // buf[0, total_) is the whole header; the fixed part was checked (ScanV2).
  FamilyInfo info;
  LookUpFamily(buf[13], &info);
  header_ = ProxyHeader();
  header_.version = 2;
  header_.command = (buf[12] & 0xf) == 1 ? ProxyCommand::kProxy : ProxyCommand::kLocal;
  header_.family = info.family;
  header_.transport = info.transport;
  header_.size = total_;
  // LOCAL: "discard the protocol block" (2.2); the addresses are skipped.
  if (header_.HasAddresses()) {
    const uint8_t* a = buf + kProxyV2FixedSize;
    switch (info.family) {
      case ProxyFamily::kInet:
        SetInet(&header_.source, AF_INET, a, a + 8);
        SetInet(&header_.destination, AF_INET, a + 4, a + 10);
        break;
      case ProxyFamily::kInet6:
        SetInet(&header_.source, AF_INET6, a, a + 32);
        SetInet(&header_.destination, AF_INET6, a + 16, a + 34);
        break;
      case ProxyFamily::kUnix:
        header_.source.unix_path = UnixName(a);
        header_.destination.unix_path = UnixName(a + kProxyUnixAddrSize);
        break;
      case ProxyFamily::kUnspec:
        break;
    }
  }
  return ParseTlvs(buf, kProxyV2FixedSize + info.addr_len);
}

ProxyParser::Status ProxyParser::ParseTlvs(const uint8_t* buf, size_t start) noexcept {
  const size_t end = total_;
  header_.tlvs = {buf + start, end - start};
  size_t crc_at = 0;
  size_t off = start;
  while (off < end) {
    if (end - off < kTlvHeaderSize)
      return Fail(ProxyError::kTlv, off, "v2: %zu byte(s) after the last TLV, too few for a TLV", end - off);
    const uint8_t type = buf[off];
    const size_t len = Be16(buf + off + 1);
    const size_t value = off + kTlvHeaderSize;
    if (len > end - value)
      return Fail(ProxyError::kTlv, off,
                  "v2: TLV 0x%02x at byte %zu has length %zu, %zu byte(s) past the end of the header", type,
                  off, len, len - (end - value));
    ProxyBytes* known = nullptr;
    switch (type) {
      case kPp2TypeAlpn: known = &header_.alpn; break;
      case kPp2TypeAuthority: known = &header_.authority; break;
      case kPp2TypeUniqueId:
        if (len > kProxyUniqueIdMax)
          return Fail(ProxyError::kTlvValue, off, "v2: PP2_TYPE_UNIQUE_ID of %zu bytes (at most %zu)", len,
                      kProxyUniqueIdMax);
        known = &header_.unique_id;
        break;
      case kPp2TypeNetns: known = &header_.netns; break;
      case kPp2TypeCrc32c:
        if (header_.has_crc32c)
          return Fail(ProxyError::kTlvValue, off, "v2: a second PP2_TYPE_CRC32C TLV");
        if (len != 4)
          return Fail(ProxyError::kTlvValue, off, "v2: PP2_TYPE_CRC32C of %zu bytes (must be 4)", len);
        header_.has_crc32c = true;
        header_.crc32c = Be32(buf + value);
        crc_at = value;
        break;
      case kPp2TypeSsl:
        if (header_.ssl.present) return Fail(ProxyError::kTlvValue, off, "v2: a second PP2_TYPE_SSL TLV");
        if (!ParseSsl(buf, value, len)) return kFailed;
        break;
      default:
        break;  // NOOP, and types we do not know: in tlvs for ProxyTlvReader
    }
    if (known) {
      // A second value would be ambiguous: which one did the proxy mean?
      if (*known) return Fail(ProxyError::kTlvValue, off, "v2: a second %s TLV", TlvName(type));
      *known = {buf + value, len};
    }
    off = value + len;
  }
  if (header_.has_crc32c) {
    // The CRC of the whole header with the checksum's own bytes as zeros.
    static const uint8_t kZero[4] = {};
    uint32_t crc = Crc32c(0, buf, crc_at);
    crc = Crc32c(crc, kZero, sizeof kZero);
    crc = Crc32c(crc, buf + crc_at + 4, end - crc_at - 4);
    if (crc != header_.crc32c)
      return Fail(ProxyError::kChecksum, crc_at,
                  "v2: PP2_TYPE_CRC32C is 0x%08x but the header's CRC32C is 0x%08x", header_.crc32c, crc);
  }
  status_ = kDone;
  return kDone;
}

// False (and failed) unless the SSL TLV is well formed.
bool ProxyParser::ParseSsl(const uint8_t* buf, size_t value, size_t len) noexcept {
  const size_t tlv = value - kTlvHeaderSize;
  if (len < kSslFixedSize) {
    Fail(ProxyError::kTlvValue, tlv,
         "v2: PP2_TYPE_SSL of %zu bytes, too short for its client and verify fields (5)", len);
    return false;
  }
  ProxySsl& ssl = header_.ssl;
  ssl.present = true;
  ssl.client = buf[value];
  ssl.verify = Be32(buf + value + 1);
  const size_t start = value + kSslFixedSize;
  const size_t end = value + len;
  ssl.sub_tlvs = {buf + start, end - start};
  size_t off = start;
  while (off < end) {
    if (end - off < kTlvHeaderSize) {
      Fail(ProxyError::kTlv, off, "v2: %zu byte(s) after the last sub-TLV of PP2_TYPE_SSL", end - off);
      return false;
    }
    const uint8_t type = buf[off];
    const size_t sub_len = Be16(buf + off + 1);
    const size_t sub_value = off + kTlvHeaderSize;
    if (sub_len > end - sub_value) {
      Fail(ProxyError::kTlv, off,
           "v2: SSL sub-TLV 0x%02x at byte %zu has length %zu, %zu byte(s) past the end of PP2_TYPE_SSL",
           type, off, sub_len, sub_len - (end - sub_value));
      return false;
    }
    ProxyBytes* known = nullptr;
    switch (type) {
      case kPp2SubtypeSslVersion: known = &ssl.version; break;
      case kPp2SubtypeSslCn: known = &ssl.cn; break;
      case kPp2SubtypeSslCipher: known = &ssl.cipher; break;
      case kPp2SubtypeSslSigAlg: known = &ssl.sig_alg; break;
      case kPp2SubtypeSslKeyAlg: known = &ssl.key_alg; break;
      default: break;
    }
    if (known) {
      if (*known) {
        Fail(ProxyError::kTlvValue, off, "v2: a second %s sub-TLV", TlvName(type));
        return false;
      }
      *known = {buf + sub_value, sub_len};
    }
    off = sub_value + sub_len;
  }
  return true;
}

}  // namespace socketserver
