/**
 * The socket objects handlers and servers see: `server.socket` (a
 * ServerSocket) and, for stream servers, `request` (a StreamSocket). They
 * follow Python's socket objects, with `async` where Python blocks.
 *
 * Times are in seconds. A socket's `timeout` is `null` (wait forever), `0`
 * (never wait: an operation that would block rejects with EAGAIN) or a
 * positive number (an operation that outlasts it rejects with ETIMEDOUT).
 */
import { atCaller, closedError, invalidArgType, outOfRange, systemError, timedOut, unsupported, wouldBlock } from './errors.js';
import type { ProxyInfo } from './proxy-protocol.js';
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

/**
 * Sockets with queued output (see StreamSocket._queueSend()), flushed
 * together from one process.nextTick() callback. A tick queued while
 * promise continuations run is called once the microtask queue is empty:
 * when every handler that ran in this turn is waiting for something.
 */
let toFlush: StreamSocket[] = [];
let flushQueued = false;

function flushAll(): void {
  const list = toFlush;
  toFlush = [];
  flushQueued = false;
  for (const sock of list) sock._flushQueued();
}

// Writes of at least this many bytes are not copied into the queue: they
// go to the kernel at once, after what is queued.
const QUEUE_MAX_WRITE = 16 * 1024;
// Queued bytes beyond this are flushed at once; while the kernel has not
// taken an earlier flush, they make the next write wait for it (the peer
// is slow to read).
const QUEUE_HIGH_WATER = 64 * 1024;
// The queue's first buffer; it grows by doubling.
const QUEUE_MIN_BUFFER = 1024;
// Bytes received without waiting, in a row, before a read waits for the
// event loop anyway: a peer that keeps a socket readable must not keep its
// handler in promise continuations forever, where other sockets and
// timers never get their turn. Node reads a socket 64 KiB per turn too.
const MAX_READ_WITHOUT_YIELD = 64 * 1024;

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
  /** Bytes received without waiting since the last wait (MAX_READ_WITHOUT_YIELD). */
  #readBytes = 0;
  /**
   * Queued output (wfile.write()): `#out[0, #outBytes)`, copies, in order,
   * not yet given to the kernel. The buffer is reused once the kernel took
   * it all, so a steady stream of replies allocates nothing.
   */
  #out: Buffer | null = null;
  #outBytes = 0;
  /** The rest of a flush the kernel did not take at once, being sent in the background. */
  #flushing: Promise<void> | null = null;
  /** Why queued output could not be sent: reported by the next operation (read, write, flush). */
  #outError: Error | null = null;
  /** @internal The reader over this socket (rfile), whose buffered input tells _queueSend() the client pipelines. */
  _input: { _buffered(): number } | null = null;
  /** Request bytes that arrived with the PROXY protocol header: recv() gives them first. */
  #pending: Buffer | null = null;
  /**
   * The PROXY protocol header the connection began with (the server's
   * `proxyProtocol` setting), or null.
   */
  proxy: ProxyInfo | null = null;

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
  recv(bufsize: number): Promise<Buffer> {
    if (!Number.isInteger(bufsize) || bufsize < 0) return Promise.reject(outOfRange('bufsize must be an integer >= 0'));
    try {
      // The bytes are there: no async step of its own.
      const data = this._recvNow(bufsize);
      if (data !== null) return Promise.resolve(data);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#recvWaiting(bufsize, this.#deadline());
  }

  async #recvWaiting(bufsize: number, deadline: number | null): Promise<Buffer> {
    for (;;) {
      try {
        await this._readable(deadline);
      } catch (error) {
        throw atCaller(error);
      }
      const data = this._recvNow(bufsize);
      if (data !== null) return data;
    }
  }

  /**
   * @internal recv() without waiting, for the readers: the data (empty at
   * EOF), or null when it must wait for `_readable()` first. Saves an
   * async frame per read on the hot path.
   */
  _recvNow(bufsize: number): Buffer | null {
    const handle = this.#open('recv');
    this.#takeOutError();
    const pending = this.#pending;
    if (pending !== null) {
      if (pending.length > bufsize) {
        this.#pending = pending.subarray(bufsize);
        return pending.subarray(0, bufsize);
      }
      this.#pending = null;
      return pending;
    }
    if (this.#timeout !== 0 && (this.#drained || this.#readBytes >= MAX_READ_WITHOUT_YIELD)) return null;
    const data = handle.recv(bufsize);
    if (data !== null) {
      this.#drained = data.length > 0 && data.length < bufsize;
      this.#readBytes += data.length;
    }
    return data;
  }

  /**
   * @internal Waits until readable (by `deadline`, default: now + timeout);
   * then `_recvNow()` tries the kernel. What is queued to send goes out
   * first: the peer may be waiting for it before it sends more.
   */
  _readable(deadline: number | null = this.#deadline()): Promise<void> {
    if (this.#pending !== null) return Promise.resolve();
    this.#drained = false;
    this.#readBytes = 0;
    this._flushQueued();
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

  /**
   * @internal wfile.write(): to the kernel at once, as before, unless the
   * reader (`_input`) already holds more input: then the client pipelines,
   * the handler is about to answer the next request, and the replies are
   * collected (copied) and sent together, in one system call, once the
   * input is used up, before a read waits, when 64 KiB are queued, on
   * flush(), or once this turn's promise continuations have run, whichever
   * comes first. Returns a promise only when the write must wait (for the
   * kernel to take earlier output, or a large write it did not take at
   * once). Throws the error of earlier queued output.
   */
  _queueSend(bytes: Uint8Array): Promise<void> | undefined {
    this.#takeOutError();
    this.#open('send');
    if (bytes.length >= QUEUE_MAX_WRITE) {
      // Large: not copied. What is queued goes first, in order.
      this._flushQueued();
      this.#takeOutError();
      if (this.#flushing !== null) return this.#flushing.then(() => this._queueSend(bytes));
      return this.#sendNowOrWait(bytes);
    }
    const more = this._input !== null && this._input._buffered() > 0;
    const queued = this.#queued;
    if (!queued && !more) return this.#sendNowOrWait(bytes);
    if (this.#flushing !== null && this.#outBytes >= QUEUE_HIGH_WATER) {
      return this.#flushing.then(() => this._queueSend(bytes));
    }
    if (!queued) {
      toFlush.push(this);
      if (!flushQueued) {
        flushQueued = true;
        process.nextTick(flushAll);
      }
    }
    // A copy: the caller may reuse its buffer once the write resolved.
    const need = this.#outBytes + bytes.length;
    let out = this.#out;
    if (out === null || out.length < need) {
      const grown = Buffer.allocUnsafeSlow(Math.max(need, 2 * (out?.length ?? 0), QUEUE_MIN_BUFFER));
      if (out !== null) out.copy(grown, 0, 0, this.#outBytes);
      out = this.#out = grown;
    }
    out.set(bytes, this.#outBytes);
    this.#outBytes = need;
    if (!more || need >= QUEUE_HIGH_WATER) {
      this._flushQueued();
      this.#takeOutError();  // this write's own send failed: it rejects, as an unqueued one would
    }
    return undefined;
  }

  /**
   * @internal Gives what is queued to the kernel: what it takes now, the
   * rest in the background (a later write or flush waits for that). An
   * error is kept for the next write or flush.
   */
  _flushQueued(): void {
    if (this.#outBytes === 0 || this.#flushing !== null || this.#handle === null) return;
    const data = (this.#out as Buffer).subarray(0, this.#outBytes);
    this.#outBytes = 0;
    let sent: number;
    try {
      sent = this._sendNow(data, 0);
    } catch (error) {
      this.#outError = error as Error;
      return;
    }
    if (sent === data.length) return;
    // The rest is sent from this buffer in the background: later writes get a new one.
    this.#out = null;
    this.#flushing = this._sendAllFrom(data, sent).then(
      () => {
        this.#flushing = null;
        this._flushQueued();
      },
      (error: Error) => {
        this.#flushing = null;
        this.#outError = error;
        // What was queued behind it cannot follow bytes that were lost.
        this.#outBytes = 0;
      },
    );
  }

  /** @internal Flushes what is queued and waits until the kernel took all of it. */
  async _flushAll(): Promise<void> {
    this._flushQueued();
    while (this.#flushing !== null) {
      await this.#flushing;
      this._flushQueued();
    }
    this.#takeOutError();
  }

  /** Sends `bytes` now as far as the kernel takes them; the promise of the rest, if any. */
  #sendNowOrWait(bytes: Uint8Array): Promise<void> | undefined {
    const sent = this._sendNow(bytes, 0);
    return sent < bytes.length ? this._sendAllFrom(bytes, sent) : undefined;
  }

  /** Output is queued, or a flush of it is still being sent: a direct send must wait for it. */
  get #queued(): boolean {
    return this.#outBytes > 0 || this.#flushing !== null;
  }

  /** Throws (once) the error of queued output that could not be sent. */
  #takeOutError(): void {
    const error = this.#outError;
    if (error === null) return;
    this.#outError = null;
    throw atCaller(error);
  }

  /** Sends what the kernel takes now (waiting until it takes something); returns the count. */
  async send(data: Uint8Array | string): Promise<number> {
    const bytes = toBytes(data);
    if (this.#queued) await this._flushAll();
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
      const bytes = toBytes(data);
      if (this.#queued) return this._flushAll().then(() => this._sendAllFrom(bytes, 0));
      // What the kernel takes at once costs no async step.
      return this.#sendNowOrWait(bytes) ?? Promise.resolve();
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

  /**
   * `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`. What is queued to send goes first,
   * as far as the kernel takes it now: `await wfile.flush()` before it when
   * a pipelining client may not be reading (finish() does).
   */
  shutdown(how: number): void {
    const handle = this.#open('shutdown');
    this._flushQueued();
    handle.shutdown(how);
  }

  /**
   * Closes the socket; harmless when already closed. What is queued to
   * send is given to the kernel first, as far as it takes it now (finish()
   * has flushed wfile before a server closes a request).
   */
  close(): void {
    const handle = this.#handle;
    if (handle === null) return;
    this._flushQueued();
    this.#handle = null;
    this.#out = null;
    this.#outBytes = 0;
    handle.close();  // wakes pending waits; their loops then report EBADF
  }

  /** The descriptor, or -1 once closed. */
  fileno(): number { return this.#handle === null ? -1 : this.#handle.fileno(); }
  get closed(): boolean { return this.#handle === null; }

  /**
   * @internal Gives up the descriptor without closing it (handed to a
   * worker thread) and returns it; the socket is closed afterwards. Only a
   * request nothing was written to yet can be handed over.
   */
  _release(): number {
    const handle = this.#open('release');
    if (handle.release === undefined || this.#outBytes !== 0) throw unsupported('handing this socket to a worker thread');
    const fd = handle.release();
    this.#handle = null;
    this.#out = null;
    return fd;
  }

  /** @internal Bytes to give recv() before the kernel's: what followed a PROXY header. */
  _unread(data: Buffer): void {
    if (data.length > 0) this.#pending = this.#pending === null ? data : Buffer.concat([data, this.#pending]);
  }

  /** @internal Takes the bytes _unread() kept (a connection handed to a worker thread takes them along). */
  _takeUnread(): Buffer | null {
    const pending = this.#pending;
    this.#pending = null;
    return pending;
  }

  /**
   * @internal One step of reading the PROXY protocol header (the native
   * parser takes what has arrived): the header once complete, with the
   * request bytes that came after it kept for recv(); null when it needs
   * more (wait with _readable()). Throws ERR_SOCKETSERVER_PROXY_PROTOCOL.
   */
  _proxyStep(mode: number): ProxyInfo | null {
    const handle = this.#open('recv');
    if (handle.proxyStep === undefined) throw unsupported('the PROXY protocol on this transport');
    const step = handle.proxyStep(mode);
    if (step === null) return null;
    this._unread(step[1]);
    return step[0];
  }

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
