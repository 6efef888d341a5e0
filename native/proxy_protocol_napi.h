// The PROXY protocol parser (proxy_protocol.h) as the JS side sees it
// (lib/proxy-protocol.ts): a parsed header as the object of
// `request.proxy`, a connection's header read step by step
// (Connection.proxyStep), a datagram's header (proxyDatagram()). The parser
// is plain C++ and fuzzed on its own; this file only converts.
#pragma once

#include <napi.h>

#include <memory>

#include "proxy_protocol.h"

namespace socketserver {

// The JS mode numbers (lib/proxy-protocol.ts MODES): 0 v1, 1 v2, 2 any.
ProxyMode ProxyModeFromJs(Napi::Env env, int32_t mode);

// One step of a connection's header: reads what has arrived (without
// blocking) into `parser` (made on the first step). Returns null when more
// must arrive, else [header, the bytes after it] (the parser is then
// reset). Throws ERR_SOCKETSERVER_PROXY_PROTOCOL for a malformed header or
// one cut short by EOF, a system error for a failed read.
Napi::Value ProxyStep(Napi::Env env, int fd, ProxyMode mode, std::unique_ptr<ProxyParser>* parser);

// Exports proxyDatagram(data) -> [header, size]: a datagram's v2 header.
void InitProxyProtocol(Napi::Env env, Napi::Object exports);

}  // namespace socketserver
