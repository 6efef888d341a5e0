/**
 * Socket constants, as Python's `socket` module names them. Linux values:
 * the package runs on Linux only (see README). A test checks them against
 * the addon's own compiled-in values.
 */
export const constants = Object.freeze({
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOL_SOCKET: 1,
  SO_REUSEADDR: 2,
  SO_KEEPALIVE: 9,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_REUSEPORT: 15,
  IPPROTO_TCP: 6,
  TCP_NODELAY: 1,
  SHUT_RD: 0,
  SHUT_WR: 1,
  SHUT_RDWR: 2,
} as const);

export type Constants = typeof constants;
