/**
 * Errors raised by the JavaScript layer, all made here: system errors
 * (`code`, `errno`, `syscall`, `address`/`port`/`path`, as Node's own),
 * the package's own error codes, and the argument checks that run before
 * any descriptor exists. (The addon makes the system errors of its own
 * calls in native/errors.cc, in the same shape.)
 */
import { constants as os } from 'node:os';
import { getSystemErrorMap, getSystemErrorName } from 'node:util';

import { constants } from './constants.js';
import type { Address } from './transport.js';

/** An `Error` with a string `code`, as Node's own errors carry. */
export interface CodedError extends Error {
  code: string;
}

/** A system error as Node makes them, with `errno` negative. */
export interface SystemError extends CodedError {
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
  path?: string;
}

function withCode<E extends Error>(error: E, code: string): E & CodedError {
  return Object.assign(error, { code });
}

/**
 * A Node-style system error: `err` is an errno name (`'EBADF'`, numbered
 * from os.constants.errno) or libuv's negative number. With `address`
 * alone it is a Unix `path`; with a `port`, an IP `address` and `port`.
 */
export function systemError(err: string | number, syscall: string, address?: string, port?: number): SystemError {
  const errno = typeof err === 'number' ? err : -(os.errno as Record<string, number>)[err];
  const code = getSystemErrorName(errno);
  const text = getSystemErrorMap().get(errno)?.[1] ?? 'unknown error';
  let message = `${syscall} ${code}: ${text}`;
  if (address !== undefined) message += port !== undefined ? ` ${address}:${port}` : ` ${address}`;
  const error: SystemError = Object.assign(new Error(message), { errno, code, syscall });
  if (address !== undefined && port !== undefined) Object.assign(error, { address, port });
  else if (address !== undefined) Object.assign(error, { path: address });
  return error;
}

/**
 * Called where an awaited wait rejected: the error was made in a loop
 * callback (a timer, a readiness callback), so its stack shows the loop,
 * not the handler. Captured again here, in the async function that awaited
 * it, V8 adds the awaiting calls ("at async MyHandler.handle"), as sharp
 * does for its errors; free unless something failed.
 */
export function atCaller<E>(error: E): E {
  if (error instanceof Error) Error.captureStackTrace(error, atCaller);
  return error;
}

/** A feature this transport or platform cannot provide; `what` says which and where. */
export function unsupported(what: string): CodedError {
  return withCode(new Error(`not supported: ${what}`), 'ERR_SOCKETSERVER_UNSUPPORTED');
}

/**
 * Something used after it was closed: a server after `serverClose()`, a
 * file object after `close()` (Python's ValueError, "I/O operation on
 * closed file").
 */
export function closedError(message: string): CodedError {
  return withCode(new Error(message), 'ERR_SOCKETSERVER_CLOSED');
}

/** An operation that cannot run twice at once (two `serveForever()` calls). */
export function busy(what: string): CodedError {
  return withCode(new Error(what), 'ERR_SOCKETSERVER_BUSY');
}

/** The error a socket operation rejects with when it outlasts `timeout`. */
export function timedOut(syscall: string): SystemError {
  return systemError('ETIMEDOUT', syscall);
}

/** Would-block, for a socket whose `timeout` is 0 (non-blocking). */
export function wouldBlock(syscall: string): SystemError {
  return systemError('EAGAIN', syscall);
}

export function invalidArgType(message: string): TypeError & CodedError {
  return withCode(new TypeError(message), 'ERR_INVALID_ARG_TYPE');
}

export function outOfRange(message: string, code = 'ERR_OUT_OF_RANGE'): RangeError & CodedError {
  return withCode(new RangeError(message), code);
}

/** True for errors that come from the operating system (Python's OSError). */
export function isSystemError(error: unknown): error is CodedError & { errno: number } {
  return error instanceof Error && typeof (error as { errno?: unknown }).errno === 'number';
}

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
