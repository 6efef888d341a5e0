/**
 * The shape of an address, checked before any descriptor exists (so bad
 * input leaks nothing): `[host, port]` for IPv4, `[host, port, flowinfo?,
 * scopeId?]` for IPv6, a path or '\0'-led abstract name for Unix. Paired
 * with native/address.cc, which turns a checked address into a sockaddr
 * (resolving host names, range-checking flowinfo and scopeId) and back.
 */
import { constants } from './constants.js';
import { invalidArgType, outOfRange, withCode } from './errors.js';
import type { Address } from './transport.js';

/** sizeof(sockaddr_un.sun_path): a path needs one byte of it for its NUL, an abstract name does not. */
const UNIX_PATH_MAX = 108;

/**
 * Checks an address's shape for a family, throwing `TypeError` or
 * `RangeError`: called before any descriptor exists, so bad input leaks
 * nothing.
 */
export function validateAddress(address: unknown, family: number): asserts address is Address {
  if (family === constants.AF_UNIX) {
    if (typeof address !== 'string' && !Buffer.isBuffer(address)) {
      throw invalidArgType(`a Unix socket address must be a string path, got ${describe(address)}`);
    }
    const bytes = Buffer.byteLength(address);
    const abstract = bytes > 0 && (typeof address === 'string' ? address[0] === '\0' : address[0] === 0);
    const max = abstract ? UNIX_PATH_MAX : UNIX_PATH_MAX - 1;
    if (bytes > max) {
      throw outOfRange(`Unix socket path is ${bytes} bytes, at most ${max} fit`, 'ERR_SOCKETSERVER_PATH_TOO_LONG');
    }
    return;
  }
  if (family !== constants.AF_INET && family !== constants.AF_INET6) {
    throw outOfRange(`unsupported address family ${String(family)}`, 'ERR_SOCKETSERVER_UNSUPPORTED');
  }
  const max = family === constants.AF_INET6 ? 4 : 2;
  if (!Array.isArray(address) || address.length < 2 || address.length > max) {
    throw invalidArgType(
      family === constants.AF_INET6
        ? `an IPv6 address must be [host, port, flowinfo?, scopeId?], got ${describe(address)}`
        : `an IPv4 address must be [host, port], got ${describe(address)}`,
    );
  }
  const [host, port] = address as unknown[];
  if (typeof host !== 'string') throw invalidArgType(`host must be a string, got ${describe(host)}`);
  // C's inet_pton/getaddrinfo would stop at the NUL: '127.0.0.1\0x' must
  // not mean 127.0.0.1 (Python: TypeError, "must not contain null character").
  if (host.includes('\0')) {
    throw withCode(new TypeError('host name must not contain NUL bytes'), 'ERR_INVALID_ARG_VALUE');
  }
  if (typeof port !== 'number') throw invalidArgType(`port must be a number, got ${describe(port)}`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw outOfRange(`port must be an integer >= 0 and <= 65535, got ${String(port)}`, 'ERR_SOCKET_BAD_PORT');
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `array of length ${value.length}`;
  return typeof value === 'string' ? `'${value}'` : typeof value;
}
