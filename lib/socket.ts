/**
 * The socket objects handlers and servers see: `server.socket` (a
 * ServerSocket) and, for stream servers, `request` (a StreamSocket). They
 * follow Python's socket objects, with `async` where Python blocks.
 *
 * Times are in seconds. A socket's `timeout` is `null` (wait forever), `0`
 * (never wait: an operation that would block rejects with EAGAIN) or a
 * positive number (an operation that outlasts it rejects with ETIMEDOUT).
 */
import { atCaller, closedError, invalidArgType, outOfRange, systemError, timedOut, wouldBlock } from './errors.js';
import type { Address, ListenerHandle, SockOptValue, StreamHandle } from './transport.js';

function toBytes(data: Uint8Array | string): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data);
  if (data instanceof Uint8Array) return data;
  throw invalidArgType('data must be a Buffer, Uint8Array or string');
}

function checkTimeout(value: number | null): number | null {
  if (value === null) return null;
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalidArgType('timeout must be a number of seconds or null');
  if (value < 0) throw outOfRange('timeout must be >= 0');
  return value;
}

/**
 * Waits for `wait()` under a timeout in seconds; on expiry calls `cancel()`
 * and rejects with ETIMEDOUT.
 */
async function waitWithTimeout(
  wait: () => Promise<void>,
  cancel: () => void,
  deadline: number | null,
  syscall: string,
): Promise<void> {
  if (deadline === null) return wait();
  const ms = deadline - performance.now();
  if (ms <= 0) throw timedOut(syscall);
  // Beyond setTimeout()'s range (~24.8 days; Infinity included), which would
  // fire at once: no deadline.
  if (ms > 2 ** 31 - 1) return wait();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      cancel();
      reject(timedOut(syscall));
    }, Math.ceil(ms));
  });
  try {
    await Promise.race([wait(), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** A connected stream socket: the `request` of TCP and Unix stream servers. */
export class StreamSocket {
  #handle: StreamHandle | null;
  #timeout: number | null = null;
  /**
   * The last recv() returned less than it asked for: the kernel has no more
   * now, so the next one waits for readiness first instead of paying a
   * system call for EAGAIN.
   */
  #drained = false;

  /** @internal */
  constructor(handle: StreamHandle) {
    this.#handle = handle;
  }

  /** Seconds an operation may wait (`null`: forever; `0`: never). */
  get timeout(): number | null { return this.#timeout; }
  set timeout(value: number | null) { this.#timeout = checkTimeout(value); }

  /** Python's `settimeout()`. */
  setTimeout(value: number | null): void { this.timeout = value; }
  /** Python's `gettimeout()`. */
  getTimeout(): number | null { return this.#timeout; }

  #open(syscall: string): StreamHandle {
    if (this.#handle === null) throw systemError('EBADF', syscall);
    return this.#handle;
  }

  #deadline(): number | null {
    return this.#timeout === null ? null : performance.now() + this.#timeout * 1000;
  }

  /** Waits for readiness; close() ends the wait (the caller's next call reports EBADF). */
  #wait(handle: StreamHandle, direction: 'read' | 'write', deadline: number | null, syscall: string): Promise<void> {
    if (this.#timeout === 0) return Promise.reject(wouldBlock(syscall));
    const wait = direction === 'read' ? () => handle.waitReadable() : () => handle.waitWritable();
    if (deadline === null || deadline === Infinity) return wait();
    return waitWithTimeout(wait, () => handle.cancelWait(direction), deadline, syscall);
  }

  /** Receives up to `bufsize` bytes; an empty Buffer means the peer closed. */
  async recv(bufsize: number): Promise<Buffer> {
    if (!Number.isInteger(bufsize) || bufsize < 0) throw outOfRange('bufsize must be an integer >= 0');
    const deadline = this.#deadline();
    for (;;) {
      const data = this._recvNow(bufsize);
      if (data !== null) return data;
      try {
        await this._readable(deadline);
      } catch (error) {
        throw atCaller(error);
      }
    }
  }

  /**
   * @internal recv() without waiting, for the readers: the data (empty at
   * EOF), or null when it must wait for `_readable()` first. Saves an
   * async frame per read on the hot path.
   */
  _recvNow(bufsize: number): Buffer | null {
    const handle = this.#open('recv');
    if (this.#drained && this.#timeout !== 0) return null;
    const data = handle.recv(bufsize);
    if (data !== null) this.#drained = data.length > 0 && data.length < bufsize;
    return data;
  }

  /** @internal Waits until readable (by `deadline`, default: now + timeout); then `_recvNow()` tries the kernel. */
  _readable(deadline: number | null = this.#deadline()): Promise<void> {
    this.#drained = false;
    return this.#wait(this.#open('recv'), 'read', deadline, 'recv');
  }

  /** @internal Sends what the kernel takes now, from `offset`; returns the new offset. */
  _sendNow(bytes: Uint8Array, offset: number): number {
    while (offset < bytes.length) {
      const n = this.#open('send').send(bytes, offset);
      if (n === null) break;
      offset += n;
    }
    return offset;
  }

  /** Sends what the kernel takes now (waiting until it takes something); returns the count. */
  async send(data: Uint8Array | string): Promise<number> {
    const bytes = toBytes(data);
    const deadline = this.#deadline();
    for (;;) {
      const handle = this.#open('send');
      const n = handle.send(bytes, 0);
      if (n !== null) return n;
      try {
        await this.#wait(handle, 'write', deadline, 'send');
      } catch (error) {
        throw atCaller(error);
      }
    }
  }

  /** Sends all of `data`; `timeout` bounds the whole call, as in Python 3.5+. */
  sendAll(data: Uint8Array | string): Promise<void> {
    try {
      return this._sendAllFrom(toBytes(data), 0);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** @internal sendAll() of `bytes` from `offset`. */
  async _sendAllFrom(bytes: Uint8Array, offset: number): Promise<void> {
    const deadline = this.#deadline();
    while (offset < bytes.length) {
      const handle = this.#open('send');
      const n = handle.send(bytes, offset);
      if (n !== null) {
        offset += n;
        continue;
      }
      try {
        await this.#wait(handle, 'write', deadline, 'send');
      } catch (error) {
        throw atCaller(error);
      }
    }
  }

  /** `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`. */
  shutdown(how: number): void { this.#open('shutdown').shutdown(how); }

  /** Closes the socket; harmless when already closed. */
  close(): void {
    const handle = this.#handle;
    if (handle === null) return;
    this.#handle = null;
    handle.close();  // wakes pending waits; their loops then report EBADF
  }

  /** The descriptor, or -1 once closed. */
  fileno(): number { return this.#handle === null ? -1 : this.#handle.fileno(); }
  get closed(): boolean { return this.#handle === null; }
  getPeerName(): Address { return this.#open('getpeername').getPeerName(); }
  getSockName(): Address { return this.#open('getsockname').getSockName(); }
  setSockOpt(level: number, name: number, value: SockOptValue): void { this.#open('setsockopt').setSockOpt(level, name, value); }
  getSockOpt(level: number, name: number): number { return this.#open('getsockopt').getSockOpt(level, name); }
}

/**
 * The server's own socket (`server.socket`): listening for a stream server,
 * bound for a datagram server, where it is also `request[1]`.
 */
export class ServerSocket {
  #handle: ListenerHandle | null;

  /** @internal */
  constructor(handle: ListenerHandle) {
    this.#handle = handle;
  }

  /** @internal The transport handle; throws once closed. */
  get handle(): ListenerHandle {
    if (this.#handle === null) throw closedError('socket: the server is closed');
    return this.#handle;
  }

  /** The descriptor, or -1 once closed. */
  fileno(): number { return this.#handle === null ? -1 : this.#handle.fileno(); }
  get closed(): boolean { return this.#handle === null; }
  bind(address: Address): void { this.handle.bind(address); }
  listen(backlog: number): void { this.handle.listen(backlog); }
  getSockName(): Address { return this.handle.getSockName(); }
  setSockOpt(level: number, name: number, value: SockOptValue): void { this.handle.setSockOpt(level, name, value); }
  getSockOpt(level: number, name: number): number { return this.handle.getSockOpt(level, name); }

  /**
   * Sends one datagram to `address`; resolves with the bytes sent. `null`
   * (the clientAddress of an unnamed Unix sender) is accepted by the type,
   * so that `sendTo(data, this.clientAddress)` compiles as Python's
   * docs write it, and rejected with a TypeError, as Python's sendto(data,
   * None) raises.
   */
  async sendTo(data: Uint8Array | string, address: Address | null): Promise<number> {
    if (address === null) {
      throw invalidArgType('sendTo() needs an address: an unnamed Unix datagram sender (clientAddress null) has none');
    }
    const bytes = toBytes(data);
    for (;;) {
      // A number, or (js transport) the promise of one: either settles this call.
      const n = this.handle.sendTo(bytes, address);
      if (typeof n === 'number') return n;
      try {
        if (n !== null) return await n;
        await this.handle.waitWritable();
      } catch (error) {
        throw atCaller(error);
      }
    }
  }

  /** Closes the socket; harmless when already closed. */
  close(): void {
    const handle = this.#handle;
    this.#handle = null;
    handle?.close();
  }
}
