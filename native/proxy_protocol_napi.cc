#include "proxy_protocol_napi.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <string>

#include "errors.h"

namespace socketserver {
namespace {

constexpr const char* kCode = "ERR_SOCKETSERVER_PROXY_PROTOCOL";

// What one step reads at most: a header (at most 16 KiB, the parser's cap)
// usually arrives whole with the first bytes of the request.
constexpr size_t kStepRead = 4096;

[[noreturn]] void ThrowProxyError(Napi::Env env, const ProxyErrorInfo& error) {
  ThrowError(env, kCode, std::string("PROXY protocol: ") + error.message);
}

Napi::Value Text(Napi::Env env, ProxyBytes b) {
  return Napi::String::New(env, reinterpret_cast<const char*>(b.data), b.size);
}

Napi::Value Bytes(Napi::Env env, ProxyBytes b) {
  return Napi::Buffer<uint8_t>::Copy(env, b.data, b.size);
}

// An address as the rest of the package writes them: [host, port] (IPv4),
// [host, port, 0, 0] (IPv6, as a TCP server's clientAddress), a Unix name.
Napi::Value Endpoint(Napi::Env env, const ProxyHeader& h, const ProxyEndpoint& e) {
  if (h.family == ProxyFamily::kUnix) return Text(env, e.unix_path);
  Napi::Array a = Napi::Array::New(env);
  a.Set(0u, Napi::String::New(env, e.host));
  a.Set(1u, Napi::Number::New(env, e.port));
  if (h.family == ProxyFamily::kInet6) {
    a.Set(2u, Napi::Number::New(env, 0));
    a.Set(3u, Napi::Number::New(env, 0));
  }
  return a;
}

Napi::Object Ssl(Napi::Env env, const ProxySsl& ssl) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("client", Napi::Number::New(env, ssl.client));
  o.Set("verify", Napi::Number::New(env, ssl.verify));
  if (ssl.version) o.Set("version", Text(env, ssl.version));
  if (ssl.cn) o.Set("cn", Text(env, ssl.cn));
  if (ssl.cipher) o.Set("cipher", Text(env, ssl.cipher));
  if (ssl.sig_alg) o.Set("sigAlg", Text(env, ssl.sig_alg));
  if (ssl.key_alg) o.Set("keyAlg", Text(env, ssl.key_alg));
  return o;
}

Napi::Object Tlvs(Napi::Env env, const ProxyHeader& h) {
  Napi::Object o = Napi::Object::New(env);
  if (h.alpn) o.Set("alpn", Text(env, h.alpn));
  if (h.authority) o.Set("authority", Text(env, h.authority));
  if (h.unique_id) o.Set("uniqueId", Bytes(env, h.unique_id));
  if (h.ssl.present) o.Set("ssl", Ssl(env, h.ssl));
  if (h.netns) o.Set("netns", Text(env, h.netns));
  Napi::Array raw = Napi::Array::New(env);
  if (h.tlvs) {
    ProxyTlvReader reader(h.tlvs);
    ProxyTlv tlv;
    uint32_t i = 0;
    while (reader.Next(&tlv)) {
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::Number::New(env, tlv.type));
      pair.Set(1u, Bytes(env, tlv.value));
      raw.Set(i++, pair);
    }
  }
  o.Set("raw", raw);
  return o;
}

Napi::Object HeaderToJs(Napi::Env env, const ProxyHeader& h) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", Napi::Number::New(env, h.version));
  o.Set("command", Napi::String::New(env, h.command == ProxyCommand::kProxy ? "PROXY" : "LOCAL"));
  bool addresses = h.HasAddresses();
  o.Set("source", addresses ? Endpoint(env, h, h.source) : env.Null());
  o.Set("destination", addresses ? Endpoint(env, h, h.destination) : env.Null());
  o.Set("tlvs", Tlvs(env, h));
  return o;
}

// proxyDatagram(data: Uint8Array) -> [header, size]
Napi::Value ProxyDatagram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array data = RequireUint8Array(info, 0, "data");
  ProxyOptions options;
  options.mode = ProxyMode::kV2;
  ProxyHeader header;
  ProxyErrorInfo error;
  if (!ProxyParser::ParseComplete(data.Data(), data.ByteLength(), options, &header, &error)) ThrowProxyError(env, error);
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, HeaderToJs(env, header));
  result.Set(1u, Napi::Number::New(env, static_cast<double>(header.size)));
  return result;
}

}  // namespace

ProxyMode ProxyModeFromJs(Napi::Env env, int32_t mode) {
  switch (mode) {
    case 0: return ProxyMode::kV1;
    case 1: return ProxyMode::kV2;
    case 2: return ProxyMode::kAny;
    default: ThrowRangeError(env, "ERR_OUT_OF_RANGE", "PROXY protocol mode must be 0 (v1), 1 (v2) or 2 (any)");
  }
}

Napi::Value ProxyStep(Napi::Env env, int fd, ProxyMode mode, std::unique_ptr<ProxyParser>* parser) {
  if (!*parser) {
    ProxyOptions options;
    options.mode = mode;
    parser->reset(new (std::nothrow) ProxyParser(options));
    if (!*parser) ThrowSystemError(env, ENOMEM, "recv");
  }
  ProxyParser& p = **parser;
  uint8_t buf[kStepRead];
  for (;;) {
    // Never more than the header may still need plus a read's worth: what
    // is read past the header goes back to JS as request bytes.
    ssize_t n;
    do {
      n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return env.Null();
      ThrowSystemError(env, errno, "recv");
    }
    size_t got = static_cast<size_t>(n);
    size_t used = got == 0 ? 0 : p.Feed(buf, got);
    if (got == 0) p.Finish();
    if (p.status() == ProxyParser::kFailed) {
      ProxyErrorInfo error = p.error();
      parser->reset();
      ThrowProxyError(env, error);
    }
    if (p.status() == ProxyParser::kDone) {
      Napi::Array result = Napi::Array::New(env, 2);
      result.Set(0u, HeaderToJs(env, p.header()));
      result.Set(1u, Napi::Buffer<uint8_t>::Copy(env, buf + used, got - used));
      parser->reset();
      return result;
    }
    // kNeedMore: all of it was taken; there may be more in the kernel.
  }
}

void InitProxyProtocol(Napi::Env env, Napi::Object exports) {
  exports.Set("proxyDatagram", Napi::Function::New<ProxyDatagram>(env, "proxyDatagram"));
}

}  // namespace socketserver
