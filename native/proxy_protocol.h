// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2)
// that a load balancer puts before a connection's own bytes: the original
// client and server addresses, and for v2 a list of TLVs (ALPN, SNI, TLS
// details, a unique id, a CRC32C of the header).
//
// Plain C++ (no N-API, no exceptions, no abort), for untrusted bytes: every
// function is noexcept, every malformed header is a ProxyError with a
// message, nothing is read outside the bytes given. The libFuzzer target
// native/fuzz/fuzz_proxy_protocol.cc and native/test/test_proxy_protocol.cc
// call it directly.
//
// A stream connection feeds a ProxyParser the bytes as they arrive, split
// anywhere; Feed() takes exactly the header's bytes and leaves the rest
// (the first request bytes) to the caller. A datagram, or bytes peeked
// with MSG_PEEK, go to ParseComplete() at once.
//
// Limits: a v1 line is at most 107 bytes, CRLF included (the spec's worst
// case, "PROXY UNKNOWN <ipv6> <ipv6> 65535 65535\r\n"); a v2 header is the
// 16-byte fixed part plus its length field, which must not exceed
// ProxyOptions::max_v2_length (default 16368: a 16 KiB header, the size of
// HAProxy's own default buffer, tune.bufsize, which bounds what HAProxy
// sends and accepts; real headers are 28 to a few hundred bytes). The
// largest the protocol allows is 65535 (kProxyV2ProtocolMaxLength).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace socketserver {

constexpr size_t kProxyV1MaxLine = 107;    // CRLF included
constexpr size_t kProxyV1MinLine = 15;     // "PROXY UNKNOWN\r\n"
constexpr size_t kProxyV2FixedSize = 16;   // signature, ver/cmd, family, length
constexpr size_t kProxyV2DefaultMaxLength = 16384 - kProxyV2FixedSize;
constexpr size_t kProxyV2ProtocolMaxLength = 65535;
constexpr size_t kProxyUnixAddrSize = 108;  // each Unix address in a v2 header
constexpr size_t kProxyUniqueIdMax = 128;   // PP2_TYPE_UNIQUE_ID

// TLV types (proxy-protocol.txt 2.2).
enum ProxyTlvType : uint8_t {
  kPp2TypeAlpn = 0x01,
  kPp2TypeAuthority = 0x02,
  kPp2TypeCrc32c = 0x03,
  kPp2TypeNoop = 0x04,
  kPp2TypeUniqueId = 0x05,
  kPp2TypeSsl = 0x20,
  kPp2SubtypeSslVersion = 0x21,
  kPp2SubtypeSslCn = 0x22,
  kPp2SubtypeSslCipher = 0x23,
  kPp2SubtypeSslSigAlg = 0x24,
  kPp2SubtypeSslKeyAlg = 0x25,
  kPp2TypeNetns = 0x30,
};

// PP2_TYPE_SSL's client bit field.
enum ProxySslClient : uint8_t {
  kPp2ClientSsl = 0x01,
  kPp2ClientCertConn = 0x02,
  kPp2ClientCertSess = 0x04,
};

// Which header a connection must start with. kAny tells them apart by the
// first byte: '\r' begins the v2 signature, 'P' the v1 "PROXY ".
enum class ProxyMode : uint8_t { kV1, kV2, kAny };

// kLocal: the proxy's own connection (a health check), or v1 "UNKNOWN": use
// the real peer. kProxy: relayed; the addresses are the original ones.
enum class ProxyCommand : uint8_t { kLocal, kProxy };
enum class ProxyFamily : uint8_t { kUnspec, kInet, kInet6, kUnix };
enum class ProxyTransport : uint8_t { kUnspec, kStream, kDgram };

enum class ProxyError : uint8_t {
  kNone,
  kSignature,    // not "PROXY " / not the v2 signature (or not the mode's version)
  kVersion,      // v2: version nibble other than 2
  kCommand,      // v2: command other than LOCAL (0) or PROXY (1)
  kFamily,       // v2: family/transport byte not one of 00 11 12 21 22 31 32
  kLength,       // v2: length too short for the family's addresses
  kTooLong,      // v1: no CRLF in 107 bytes; v2: length above max_v2_length
  kV1Line,       // v1: CR or LF not in a CRLF, a missing or extra field, a bad space
  kV1Token,      // v1: protocol other than TCP4, TCP6, UNKNOWN
  kV1Address,    // v1: address not in the canonical form of the family
  kV1Port,       // v1: port not a decimal 0-65535 without leading zeros
  kTlv,          // v2: a TLV (or SSL sub-TLV) runs past its container
  kTlvValue,     // v2: a known TLV with a bad length, or given twice
  kChecksum,     // v2: PP2_TYPE_CRC32C does not match the header
  kTruncated,    // the input ended before the header did
  kNoMemory,     // the buffer for a large v2 header could not be allocated
};

// Bytes inside the header (a view: no copy). Null data: absent. Present
// and empty: data set, size 0.
struct ProxyBytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
  explicit operator bool() const { return data != nullptr; }
};

// One end of the proxied connection.
struct ProxyEndpoint {
  // IPv4 / IPv6: the address in network byte order (4 or 16 bytes used),
  // its numeric text exactly as glibc's inet_ntop writes it ("192.0.2.1",
  // "2001:db8::1", "::ffff:192.0.2.1"), NUL-terminated, and the port.
  uint8_t addr[16] = {};
  char host[46] = "";  // INET6_ADDRSTRLEN
  uint16_t port = 0;
  // Unix: the name as socketserver shows Unix names elsewhere (sockaddr.h):
  // a path is the bytes before the first NUL (all 108 if there is none);
  // an abstract name is its leading NUL and the bytes up to the last
  // non-NUL one (the header does not carry the name's length); an
  // all-zero address is unnamed (empty).
  ProxyBytes unix_path;
};

// PP2_TYPE_SSL: how the client reached the proxy.
struct ProxySsl {
  bool present = false;
  uint8_t client = 0;   // ProxySslClient bits
  uint32_t verify = 0;  // 0: the client's certificate was verified
  ProxyBytes version;   // sub-TLVs (US-ASCII / UTF-8 text, as sent)
  ProxyBytes cn;
  ProxyBytes cipher;
  ProxyBytes sig_alg;
  ProxyBytes key_alg;
  ProxyBytes sub_tlvs;  // all of them, known or not: read with ProxyTlvReader
};

struct ProxyHeader {
  uint8_t version = 0;  // 1 or 2
  ProxyCommand command = ProxyCommand::kLocal;
  // v2: from the family byte (also for LOCAL, whose addresses are not read);
  // v1: kInet/kInet6 with kStream for TCP4/TCP6, kUnspec for UNKNOWN.
  ProxyFamily family = ProxyFamily::kUnspec;
  ProxyTransport transport = ProxyTransport::kUnspec;
  bool v1_unknown = false;  // "PROXY UNKNOWN ...": command is kLocal
  size_t size = 0;          // bytes of the header; the connection's data follows
  ProxyEndpoint source;     // set when HasAddresses()
  ProxyEndpoint destination;

  // v2 TLVs, each checked (lengths, no duplicates of a known type).
  ProxyBytes alpn;
  ProxyBytes authority;   // UTF-8 host name (TLS SNI), as sent
  ProxyBytes unique_id;   // at most 128 bytes
  ProxyBytes netns;
  bool has_crc32c = false;
  uint32_t crc32c = 0;    // verified
  ProxySsl ssl;
  ProxyBytes tlvs;        // the whole TLV area, for ProxyTlvReader (v1: absent)

  bool HasAddresses() const {
    return command == ProxyCommand::kProxy && family != ProxyFamily::kUnspec;
  }
};

struct ProxyTlv {
  uint8_t type = 0;
  ProxyBytes value;
};

// Walks a TLV area of a parsed header (ProxyHeader::tlvs, ProxySsl::sub_tlvs)
// in order, unknown types and NOOPs included. Stops at the end, or at a TLV
// that overruns the area (never the case for a parsed header's areas).
class ProxyTlvReader {
 public:
  explicit ProxyTlvReader(ProxyBytes area) noexcept : area_(area) {}
  bool Next(ProxyTlv* tlv) noexcept;

 private:
  ProxyBytes area_;
  size_t off_ = 0;
};

struct ProxyOptions {
  ProxyMode mode = ProxyMode::kAny;
  // Largest v2 length field accepted (the header is 16 bytes more); at most
  // kProxyV2ProtocolMaxLength. A longer header fails as soon as its 16th
  // byte arrives, before any of its body is buffered.
  size_t max_v2_length = kProxyV2DefaultMaxLength;
};

struct ProxyErrorInfo {
  ProxyError code = ProxyError::kNone;
  size_t offset = 0;       // the byte where the header went wrong
  char message[192] = "";  // "v1: bad source address \"1.2.3\" (...)", printable ASCII
};

// The incremental parser of one connection's header.
//
//   ProxyParser p({ProxyMode::kAny});
//   on readable: n = read(fd, buf, p.WantedSize());   // or a larger read
//                used = p.Feed(buf, n);                 // buf[used..n) is request data
//                if (p.status() == kDone)   ... p.header() ...
//                if (p.status() == kFailed) ... p.error().message ... close
//   on EOF:      p.Finish();                            // kFailed, kTruncated
//
// Feed() copies at most the header's bytes into the parser (v1: up to 107;
// v2: 16, then 16 + length); the header's views (ProxyBytes) point into the
// parser and live as long as it does. The result of a byte sequence does
// not depend on how it was split between Feed() calls (same status,
// consumed(), header, error and offset).
class ProxyParser {
 public:
  enum Status : uint8_t { kNeedMore, kDone, kFailed };

  explicit ProxyParser(ProxyOptions options = {}) noexcept;
  ~ProxyParser();
  ProxyParser(const ProxyParser&) = delete;
  ProxyParser& operator=(const ProxyParser&) = delete;

  // Takes bytes of `data` up to the end of the header and returns how many
  // it took (<= len; fewer than len only when the header ended or failed
  // inside `data`). 0 once done or failed.
  size_t Feed(const uint8_t* data, size_t len) noexcept;
  // The input ended (EOF, or the caller gave up waiting): a header still
  // incomplete fails with kTruncated. Returns the status.
  Status Finish() noexcept;

  Status status() const { return status_; }
  // Bytes of the input taken so far; once done, the header's size.
  size_t consumed() const { return have_; }
  // How many more bytes Feed() could take now: read or peek up to this
  // (more is fine too: Feed() leaves what is not the header's). 0 when done.
  size_t WantedSize() const noexcept;
  // How many more bytes the header has at least: a read() of this many
  // never takes request bytes (v2: exactly what is missing; v1: the line's
  // end is unknown until its CRLF, so 1 to 15). 0 when done.
  size_t SafeReadSize() const noexcept;

  const ProxyHeader& header() const { return header_; }  // when kDone
  const ProxyErrorInfo& error() const { return error_; } // when kFailed

  // The header at the start of `data` (a datagram, or bytes peeked off a
  // socket), whose end is the end of the input: an incomplete header is
  // kTruncated. No copy: the header's views point into `data`. Returns
  // true with *header set (header->size bytes), or false with *error set.
  static bool ParseComplete(const uint8_t* data, size_t len, const ProxyOptions& options,
                            ProxyHeader* header, ProxyErrorInfo* error) noexcept;

 private:
  enum class Kind : uint8_t { kUndecided, kV1, kV2 };

  Status Scan(const uint8_t* buf, size_t have) noexcept;
  Status ScanV1(const uint8_t* buf, size_t have) noexcept;
  Status ScanV2(const uint8_t* buf, size_t have) noexcept;
  Status ParseV1Line(const uint8_t* buf, size_t len) noexcept;
  Status ParseV2(const uint8_t* buf) noexcept;
  Status ParseTlvs(const uint8_t* buf, size_t start) noexcept;
  bool ParseSsl(const uint8_t* buf, size_t value_off, size_t value_len) noexcept;
  Status Fail(ProxyError code, size_t offset, const char* format, ...) noexcept
      __attribute__((format(printf, 4, 5)));
  size_t Limit() const noexcept;  // the most bytes the header can have, as far as known
  bool Reserve(size_t size) noexcept;
  uint8_t* Buffer() noexcept { return heap_ ? heap_.get() : inline_; }

  ProxyOptions options_;
  Status status_ = kNeedMore;
  Kind kind_ = Kind::kUndecided;
  size_t pos_ = 0;    // bytes scanned
  size_t total_ = 0;  // v2: 16 + length, once the length is known
  size_t have_ = 0;   // bytes in the buffer (Feed)
  ProxyHeader header_;
  ProxyErrorInfo error_;
  std::unique_ptr<uint8_t[]> heap_;  // a v2 header longer than inline_
  size_t heap_size_ = 0;
  uint8_t inline_[256];
};

const char* ProxyErrorName(ProxyError code) noexcept;

// Exposed for the tests and the fuzz target.
namespace proxy_detail {
// v1 address text, strictly (proxy-protocol.txt 2.1): IPv4 as four decimal
// numbers 0-255 without leading zeros; IPv6 as up to eight groups of 1-4
// hex digits with at most one "::", or six groups then an IPv4 tail
// (inet_ntop writes "::ffff:192.0.2.1"). No zone ids, no spaces.
bool ParseIPv4Text(const char* s, size_t n, uint8_t out[4]) noexcept;
bool ParseIPv6Text(const char* s, size_t n, uint8_t out[16]) noexcept;
// Address text exactly as glibc's inet_ntop writes it ("192.0.2.1",
// "2001:db8::1", "::ffff:192.0.2.1"), which is what socketserver shows for
// a real peer (sockaddr.cc), without inet_ntop's sprintf calls.
void FormatIPv4(const uint8_t in[4], char out[16]) noexcept;
void FormatIPv6(const uint8_t in[16], char out[46]) noexcept;
// Decimal 0-65535 without leading zeros.
bool ParsePortText(const char* s, size_t n, uint16_t* out) noexcept;
// CRC32C (Castagnoli, RFC 4960 appendix B), continuing from `crc` (start
// with 0).
uint32_t Crc32c(uint32_t crc, const uint8_t* data, size_t len) noexcept;
}  // namespace proxy_detail

}  // namespace socketserver
