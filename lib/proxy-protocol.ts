/**
 * The PROXY protocol (HAProxy's proxy-protocol.txt, v1 and v2) on stream
 * servers, and v2 on datagram servers: the settings, who may send a
 * header, and reading it before the request reaches the hooks. The header
 * is parsed natively (native/proxy_protocol.cc; the JS objects are made in
 * native/proxy_protocol_napi.cc): a connection's bytes go to its parser as
 * they arrive, and what follows the header stays the request's.
 */
import * as net from 'node:net';

import { constants } from './constants.js';
import { invalidArgType, invalidArgValue, outOfRange, unsupported, withCode } from './errors.js';
import type { Address } from './transport.js';

/** The `proxyProtocol` setting. */
export type ProxyProtocolMode = false | 'v1' | 'v2' | 'any';

/** PP2_TYPE_SSL: how the client reached the proxy. */
export interface ProxySsl {
  /** PP2_CLIENT_SSL (1), PP2_CLIENT_CERT_CONN (2), PP2_CLIENT_CERT_SESS (4). */
  client: number;
  /** 0 when the client's certificate was verified. */
  verify: number;
  version?: string;
  cn?: string;
  cipher?: string;
  sigAlg?: string;
  keyAlg?: string;
}

/** A v2 header's TLVs: the known ones decoded, and every one raw, in order. */
export interface ProxyTlvs {
  alpn?: string;
  authority?: string;
  uniqueId?: Buffer;
  ssl?: ProxySsl;
  netns?: string;
  raw: Array<[type: number, value: Buffer]>;
}

/** `request.proxy`: what the header said. */
export interface ProxyInfo {
  version: 1 | 2;
  /** LOCAL: the proxy's own connection (a health check), or v1 UNKNOWN. */
  command: 'PROXY' | 'LOCAL';
  /** The original client; null for LOCAL and UNKNOWN. */
  source: Address | null;
  /** The address the client connected to; null for LOCAL and UNKNOWN. */
  destination: Address | null;
  tlvs: ProxyTlvs;
}

/** The mode numbers the addon takes. */
const MODES = { v1: 0, v2: 1, any: 2 } as const;

/** The error every header problem is reported with: refused peer, malformed, missing, late. */
export function proxyError(message: string, cause?: unknown): Error {
  return withCode(new Error(`PROXY protocol: ${message}`, cause === undefined ? undefined : { cause }), 'ERR_SOCKETSERVER_PROXY_PROTOCOL');
}

/**
 * Who may send a header (`proxyTrusted`): addresses and CIDRs, IPv4 and
 * IPv6 (an IPv4-mapped IPv6 peer matches the IPv4 entries), and 'unix' for
 * every Unix peer. Matched with node:net's BlockList.
 */
export class ProxyTrust {
  readonly #list = new net.BlockList();
  readonly #unix: boolean;

  constructor(entries: readonly string[]) {
    let unix = false;
    for (const entry of entries) {
      if (typeof entry !== 'string') throw invalidArgType(`proxyTrusted: each entry must be a string, got ${typeof entry}`);
      if (entry === 'unix') {
        unix = true;
        continue;
      }
      const slash = entry.indexOf('/');
      const host = slash < 0 ? entry : entry.slice(0, slash);
      const family = net.isIP(host);
      if (family === 0) throw invalidArgValue(`proxyTrusted: '${entry}' is not an address, a CIDR or 'unix'`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (slash < 0) {
        this.#list.addAddress(host, type);
        continue;
      }
      const prefix = entry.slice(slash + 1);
      if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > (family === 4 ? 32 : 128)) {
        throw invalidArgValue(`proxyTrusted: '${entry}' has a bad prefix length (0-${family === 4 ? 32 : 128})`);
      }
      this.#list.addSubnet(host, Number(prefix), type);
    }
    this.#unix = unix;
  }

  /** True when the peer (clientAddress of the real connection) may send a header. */
  allows(peer: Address | null, family: number): boolean {
    if (family === constants.AF_UNIX) return this.#unix;
    if (!Array.isArray(peer)) return false;
    const host = peer[0];
    return this.#list.check(host, net.isIPv6(host) ? 'ipv6' : 'ipv4');
  }
}

/** The PROXY settings of a server, checked. */
export interface ProxySettings {
  /** The addon's mode number. */
  mode: number;
  trust: ProxyTrust | null;
  /** Seconds a connection has to deliver its header. */
  timeout: number;
}

/**
 * Checks `proxyProtocol`, `proxyTrusted` and `proxyTimeout`: null when the
 * protocol is off. Datagram servers take v2 only (v1 is a line protocol of
 * streams); a transport that cannot parse headers refuses.
 */
export function checkProxySettings(
  server: { proxyProtocol: unknown; proxyTrusted: unknown; proxyTimeout: unknown; socketType: number },
  canParse: boolean,
  transportName: string,
): ProxySettings | null {
  const { proxyProtocol: mode, proxyTrusted: trusted, proxyTimeout: timeout } = server;
  if (mode !== false && mode !== 'v1' && mode !== 'v2' && mode !== 'any') {
    throw invalidArgValue(`proxyProtocol must be false, 'v1', 'v2' or 'any', got ${JSON.stringify(mode)}`);
  }
  if (trusted !== null && !Array.isArray(trusted)) throw invalidArgType('proxyTrusted must be an array of addresses or CIDRs, or null');
  if (typeof timeout !== 'number') throw invalidArgType(`proxyTimeout must be a number of seconds, got ${typeof timeout}`);
  if (!(timeout > 0)) throw outOfRange(`proxyTimeout must be > 0, got ${timeout}`);
  const trust = trusted === null ? null : new ProxyTrust(trusted as string[]);
  if (mode === false) return null;
  if (!canParse) throw unsupported(`proxyProtocol on the ${transportName} transport`);
  if (server.socketType === constants.SOCK_DGRAM && mode !== 'v2') {
    throw invalidArgValue(`proxyProtocol '${mode}' on a datagram server: datagrams carry v2 headers only ('v2')`);
  }
  return { mode: MODES[mode], trust, timeout };
}

/** What a stream request needs for its header: the socket's steps (StreamSocket). */
interface HeaderSource {
  _proxyStep(mode: number): ProxyInfo | null;
  _readable(deadline: number | null): Promise<void>;
}

/**
 * A connection's header: at once when it has arrived (the common case: a
 * proxy sends it with the connection), else a wait of at most
 * `proxyTimeout` seconds. Malformed, cut short or late: rejects with
 * ERR_SOCKETSERVER_PROXY_PROTOCOL.
 */
export function readProxyHeader(sock: HeaderSource, settings: ProxySettings): ProxyInfo | Promise<ProxyInfo> {
  const info = sock._proxyStep(settings.mode);
  return info ?? waitProxyHeader(sock, settings);
}

async function waitProxyHeader(sock: HeaderSource, settings: ProxySettings): Promise<ProxyInfo> {
  const deadline = performance.now() + settings.timeout * 1000;
  for (;;) {
    try {
      await sock._readable(deadline);
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ETIMEDOUT') throw proxyError(`no complete header within ${settings.timeout} s (proxyTimeout)`, error);
      throw error;
    }
    const info = sock._proxyStep(settings.mode);
    if (info !== null) return info;
  }
}

/** The address a request with this header is from: the original client, or (LOCAL, UNKNOWN) the real peer. */
export function proxiedAddress(info: ProxyInfo, peer: Address | null): Address | null {
  return info.command === 'PROXY' && info.source !== null ? info.source : peer;
}

/**
 * A header that came through postMessage (to a worker thread): Buffers
 * arrive as plain Uint8Arrays there; make them Buffers again.
 */
export function reviveProxyInfo(info: ProxyInfo): ProxyInfo {
  const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const { tlvs } = info;
  if (tlvs.uniqueId !== undefined) tlvs.uniqueId = buf(tlvs.uniqueId);
  tlvs.raw = tlvs.raw.map(([type, value]) => [type, buf(value)]);
  return info;
}
