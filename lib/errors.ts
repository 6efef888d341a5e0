/**
 * Errors raised by the JavaScript layer, all made here: system errors
 * (`code`, `errno`, `syscall`, `address`/`port`/`path`, as Node's own),
 * the package's own error codes, and argument errors. (The addon makes the
 * system errors of its own calls in native/errors.cc, in the same shape;
 * address checks are in address.ts.)
 */
import { constants as os } from 'node:os';
import { getSystemErrorMap, getSystemErrorName, inspect } from 'node:util';

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

export function withCode<E extends Error>(error: E, code: string): E & CodedError {
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

export function invalidArgValue(message: string): TypeError & CodedError {
  return withCode(new TypeError(message), 'ERR_INVALID_ARG_VALUE');
}

export function outOfRange(message: string, code = 'ERR_OUT_OF_RANGE'): RangeError & CodedError {
  return withCode(new RangeError(message), code);
}

/** True for errors that come from the operating system (Python's OSError). */
export function isSystemError(error: unknown): error is CodedError & { errno: number } {
  return error instanceof Error && typeof (error as { errno?: unknown }).errno === 'number';
}

/**
 * Reports on stderr an error nobody else will hear of, as Python's
 * threading.excepthook does: one that escaped a request task, or the worker
 * pool's own. `where` names it ("request task", "the worker pool").
 */
export function reportUncaught(where: string, error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? String(error)) : inspect(error);
  process.stderr.write(`Exception in ${where}:\n${text}\n`);
}

/** reportUncaught() for an error that escaped a request task. */
export function reportTaskError(error: unknown): void {
  reportUncaught('request task', error);
}
