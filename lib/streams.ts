/**
 * File-like objects over a request: `rfile` and `wfile` of the handlers.
 *
 * For stream requests they follow `socket.makefile()`: SocketReader is a
 * buffered reader (`rbufsize` bytes per recv; 0 reads only what is asked
 * for, so a readline() never consumes past its line), SocketWriter sends
 * everything before resolving (Python's `_SocketWriter`, for `wbufsize` 0),
 * BufferedSocketWriter collects `wbufsize` bytes before sending. For
 * datagrams, BytesReader and BytesWriter follow `io.BytesIO`.
 */
import { atCaller, closedError, invalidArgType } from './errors.js';
import type { StreamSocket } from './socket.js';

const DEFAULT_BUFFER_SIZE = 8192;
const EMPTY = Buffer.alloc(0);
const NEWLINE = 0x0a;

/**
 * Reads lines and bytes from a connected socket. Methods resolve at EOF with what there was.
 *
 * What is buffered is `#buf[#pos, end)` (the head: usually the one recv()
 * that holds the next lines, handed out as views without a copy) followed
 * by `#acc[0, #accLen)`, where the reads that arrive while the head has no
 * end of line yet are appended. `#acc` grows by doubling, and a newline is
 * searched only in what just arrived, so a line of n bytes costs O(n)
 * however many reads it spans, not one copy of everything so far per read
 * (16 MiB in 8 KiB reads was 12 s of the JavaScript thread that way).
 *
 * When the head already holds the answer, readline(), read(n) and the
 * iterator return a resolved promise without an async frame of their own:
 * one view and one awaited step (the caller's) per line.
 */
export class SocketReader implements AsyncIterable<Buffer> {
  #sock: StreamSocket;
  #bufsize: number;
  #buf: Buffer = EMPTY;
  #pos = 0;
  #acc: Buffer | null = null;
  #accLen = 0;
  #eof = false;
  #closed = false;
  /** How much of what is buffered is known to hold no '\n' (tryReadline()); 0 once anything is taken. */
  #scanned = 0;

  /** `bufsize`: bytes per recv; -1 picks the default (8192); 0 is unbuffered. */
  constructor(sock: StreamSocket, bufsize = -1) {
    this.#sock = sock;
    this.#bufsize = bufsize < 0 ? DEFAULT_BUFFER_SIZE : bufsize;
    sock._input = this;
  }

  get closed(): boolean { return this.#closed; }
  fileno(): number { return this.#sock.fileno(); }
  close(): void {
    this.#closed = true;
    if (this.#sock._input === this) this.#sock._input = null;
  }

  /** @internal Bytes read from the socket and not yet handed out. */
  _buffered(): number {
    return this.#size;
  }

  #check(): void {
    if (this.#closed) throw closedError('I/O operation on closed file');
  }

  /** Bytes buffered. */
  get #size(): number {
    return this.#buf.length - this.#pos + this.#accLen;
  }

  /**
   * Receives once without waiting (at most `want` bytes when unbuffered):
   * true when bytes were added, false at EOF, null when the socket must
   * become readable first.
   */
  #fillNow(want: number): boolean | null {
    if (this.#eof) return false;
    const size = this.#bufsize === 0 ? Math.max(1, want) : Math.max(this.#bufsize, want);
    const data = this.#sock._recvNow(size);
    if (data === null) return null;
    if (data.length === 0) {
      this.#eof = true;
      return false;
    }
    if (this.#size === 0) {
      this.#buf = data;
      this.#pos = 0;
    } else this.#append(data);
    return true;
  }

  /** Appends behind the head, in amortised O(1) per byte. */
  #append(data: Buffer): void {
    const need = this.#accLen + data.length;
    let acc = this.#acc;
    if (acc === null || acc.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, 2 * (acc?.length ?? 0), 4096));
      if (acc !== null) acc.copy(grown, 0, 0, this.#accLen);
      acc = this.#acc = grown;
    }
    data.copy(acc, this.#accLen);
    this.#accLen = need;
  }

  /** The index (from the first byte buffered) of the first '\n' at or after `from`, or -1. */
  #indexOfNewline(from: number): number {
    const pos = this.#pos;
    const head = this.#buf.length - pos;
    if (from < head) {
      const nl = this.#buf.indexOf(NEWLINE, pos + from);
      if (nl >= 0) return nl - pos;
      if (this.#accLen === 0) return -1;
      from = head;
    }
    if (this.#accLen === 0) return -1;
    const nl = (this.#acc as Buffer).subarray(0, this.#accLen).indexOf(NEWLINE, from - head);
    return nl < 0 ? -1 : head + nl;
  }

  /** Takes the first `n` bytes buffered (n at most #size). */
  #take(n: number): Buffer {
    this.#scanned = 0;
    const buf = this.#buf;
    const pos = this.#pos;
    const head = buf.length - pos;
    if (n <= head) {
      const out = pos === 0 && n === buf.length ? buf : buf.subarray(pos, pos + n);
      if (n < head) this.#pos = pos + n;
      else this.#headFromAcc(0);
      return out;
    }
    // Into the appended bytes: one copy at most. #acc is let go, so the
    // views handed out (the line, the rest as the new head) are never
    // written again; later reads append to a fresh one.
    const acc = this.#acc as Buffer;
    const fromAcc = n - head;
    let out: Buffer;
    if (head === 0) out = acc.subarray(0, fromAcc);
    else {
      out = Buffer.allocUnsafe(n);
      buf.copy(out, 0, pos);
      acc.copy(out, head, 0, fromAcc);
    }
    this.#headFromAcc(fromAcc);
    return out;
  }

  /** The head is used up: what was appended from `from` on becomes the head. */
  #headFromAcc(from: number): void {
    if (from < this.#accLen) {
      this.#buf = (this.#acc as Buffer).subarray(0, this.#accLen);
      this.#pos = from;
    } else {
      this.#buf = EMPTY;
      this.#pos = 0;
    }
    this.#acc = null;
    this.#accLen = 0;
  }

  /** The next line when the head holds all of it (within `limit`), else null; the fast path. */
  #lineNow(limit: number): Buffer | null {
    if (this.#closed) return null;
    const buf = this.#buf;
    const pos = this.#pos;
    const nl = buf.indexOf(NEWLINE, pos);
    if (nl < 0 || (limit >= 0 && nl - pos >= limit)) return null;
    const end = nl + 1;
    this.#scanned = 0;
    if (end < buf.length) {
      this.#pos = end;
      return buf.subarray(pos, end);
    }
    const out = pos === 0 ? buf : buf.subarray(pos, end);
    this.#headFromAcc(0);
    return out;
  }

  /** `n` bytes (fewer only at EOF); without `n` (or negative), everything to EOF. */
  read(n = -1): Promise<Buffer> {
    // The head holds them: no async step of its own.
    if (!this.#closed && Number.isInteger(n) && n >= 0 && n <= this.#buf.length - this.#pos) {
      return Promise.resolve(this.#take(n));
    }
    return this.#until(() => this.tryRead(n));
  }

  /** Tries `attempt` until it gives something, waiting for the socket between tries. */
  async #until(attempt: () => Buffer | null): Promise<Buffer> {
    for (;;) {
      const got = attempt();
      if (got !== null) return got;
      try {
        await this.#sock._readable();
      } catch (error) {
        throw atCaller(error);
      }
    }
  }

  /** Through the next '\n' inclusive, or to EOF; at most `limit` bytes when limit >= 0. */
  readline(limit = -1): Promise<Buffer> {
    const line = this.#lineNow(limit);
    return line !== null ? Promise.resolve(line) : this.#until(() => this.tryReadline(limit));
  }

  /**
   * What `readline(limit)` would resolve with, when that needs no wait: the
   * line is buffered, or the kernel has it now (a non-blocking recv), or
   * the stream is at EOF. Otherwise `null`, having consumed nothing, as
   * Python's non-blocking `readline()` returns `None`. For parsing what a
   * pipelining client sent without an awaited step per line:
   * `const line = rfile.tryReadline(limit) ?? (await rfile.readline(limit))`.
   * Throws what readline() would reject with.
   */
  tryReadline(limit = -1): Buffer | null {
    const line = this.#lineNow(limit);
    if (line !== null) return line;
    this.#check();
    for (;;) {
      // Bytes searched already (#scanned): only what arrives after them is searched again.
      const nl = this.#indexOfNewline(this.#scanned);
      if (nl >= 0 && (limit < 0 || nl < limit)) return this.#take(nl + 1);
      const size = this.#size;
      if (limit >= 0 && size >= limit) return this.#take(limit);
      this.#scanned = size;
      // Unbuffered: one byte at a time, so nothing past the line is consumed.
      const got = this.#fillNow(this.#bufsize === 0 ? 1 : this.#bufsize);
      if (got === null) return null;
      if (!got) return this.#take(size);
    }
  }

  /**
   * What `read(n)` would resolve with, when that needs no wait (the bytes
   * are buffered or the kernel has them now, or EOF came); otherwise
   * `null`, having consumed nothing. Without `n`, only at EOF.
   */
  tryRead(n = -1): Buffer | null {
    this.#check();
    const toEof = n === null || n === undefined || n < 0;
    if (!toEof && !Number.isInteger(n)) throw invalidArgType('read(n): n must be an integer');
    while (toEof || this.#size < n) {
      const got = this.#fillNow(toEof ? (this.#bufsize === 0 ? 65536 : this.#bufsize) : n - this.#size);
      if (got === null) return null;
      if (!got) break;
    }
    return this.#take(toEof ? this.#size : Math.min(n, this.#size));
  }

  /** Every remaining line; stops once `hint` bytes (when > 0) have been read. */
  async readlines(hint = -1): Promise<Buffer[]> {
    const lines: Buffer[] = [];
    let total = 0;
    for (;;) {
      const line = await this.readline();
      if (line.length === 0) return lines;
      lines.push(line);
      total += line.length;
      if (hint > 0 && total >= hint) return lines;
    }
  }

  /**
   * `for await (const line of rfile)`: the lines up to EOF. A plain
   * iterator over readline() rather than an async generator, whose every
   * `yield` costs an extra awaited step; a line the head holds costs none
   * of its own.
   */
  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    let done = false;
    const finished: IteratorResult<Buffer> = { done: true, value: undefined };
    const result = (line: Buffer): IteratorResult<Buffer> => {
      if (line.length > 0) return { done: false, value: line };
      done = true;
      return finished;
    };
    return {
      next: (): Promise<IteratorResult<Buffer>> => {
        if (done) return Promise.resolve(finished);
        const line = this.#lineNow(-1);
        if (line !== null) return Promise.resolve({ done: false, value: line });
        return this.#until(() => this.tryReadline()).then(result);
      },
      return: (): Promise<IteratorResult<Buffer>> => {
        done = true;
        return Promise.resolve(finished);
      },
    };
  }
}

/** What `wfile` offers, buffered or not. */
export interface Writer {
  readonly closed: boolean;
  /** Resolves with the number of bytes taken (all of them). */
  write(data: Uint8Array | string): Promise<number>;
  flush(): Promise<void>;
  close(): void | Promise<void>;
  fileno(): number;
}

/**
 * Unbuffered: `write()` gives everything to the socket before it resolves:
 * to the kernel at once, unless rfile already holds the client's next
 * request (a pipelining client). Then the replies are collected and sent
 * together once that input is used up (or before a read waits, on
 * `flush()`, at 64 KiB, or once this turn's promise continuations have
 * run): one system call for a batch of pipelined requests, not one per
 * reply. An error of such a send is reported by the next operation on the
 * socket (finish() flushes).
 */
export class SocketWriter implements Writer {
  #sock: StreamSocket;
  #closed = false;

  constructor(sock: StreamSocket) {
    this.#sock = sock;
  }

  get closed(): boolean { return this.#closed; }
  fileno(): number { return this.#sock.fileno(); }

  write(data: Uint8Array | string): Promise<number> {
    try {
      if (this.#closed) throw closedError('write to closed file');
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      if (!(bytes instanceof Uint8Array)) throw invalidArgType('data must be a Buffer, Uint8Array or string');
      const waiting = this.#sock._queueSend(bytes);
      return waiting === undefined ? Promise.resolve(bytes.length) : waiting.then(() => bytes.length);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Sends what is queued; resolves once the kernel took it (rejects with an earlier write's error). */
  flush(): Promise<void> {
    return this.#sock._flushAll();
  }

  close(): void { this.#closed = true; }
}

/** Buffered: collects up to `bufsize` bytes, sending when full and on flush(). */
export class BufferedSocketWriter implements Writer {
  #sock: StreamSocket;
  #bufsize: number;
  #chunks: Buffer[] = [];
  #size = 0;
  #closed = false;

  constructor(sock: StreamSocket, bufsize: number) {
    this.#sock = sock;
    this.#bufsize = bufsize < 0 ? DEFAULT_BUFFER_SIZE : bufsize;
  }

  get closed(): boolean { return this.#closed; }
  fileno(): number { return this.#sock.fileno(); }

  async write(data: Uint8Array | string): Promise<number> {
    if (this.#closed) throw closedError('write to closed file');
    const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.#chunks.push(Buffer.from(bytes));  // a copy: the caller may reuse its buffer
    this.#size += bytes.length;
    if (this.#size >= this.#bufsize) await this.flush();
    return bytes.length;
  }

  async flush(): Promise<void> {
    if (this.#size === 0) return;
    const data = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks, this.#size);
    this.#chunks = [];
    this.#size = 0;
    await this.#sock.sendAll(data);
  }

  /** Flushes what is held, then closes (the socket stays open). */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.flush();
    } finally {
      this.#closed = true;
    }
  }
}

/** `io.BytesIO` for reading a datagram: synchronous, so `await` is optional. */
export class BytesReader {
  #data: Buffer;
  #pos = 0;
  #closed = false;

  constructor(data: Buffer) {
    this.#data = data;
  }

  get closed(): boolean { return this.#closed; }
  close(): void { this.#closed = true; }
  getValue(): Buffer { return this.#data; }

  read(n = -1): Buffer {
    if (this.#closed) throw closedError('I/O operation on closed file');
    const end = n < 0 ? this.#data.length : Math.min(this.#data.length, this.#pos + n);
    const out = this.#data.subarray(this.#pos, end);
    this.#pos = end;
    return out;
  }

  readline(limit = -1): Buffer {
    if (this.#closed) throw closedError('I/O operation on closed file');
    const nl = this.#data.indexOf(NEWLINE, this.#pos);
    let end = nl < 0 ? this.#data.length : nl + 1;
    if (limit >= 0) end = Math.min(end, this.#pos + limit);
    const out = this.#data.subarray(this.#pos, end);
    this.#pos = end;
    return out;
  }

  readlines(): Buffer[] {
    const lines: Buffer[] = [];
    for (let line = this.readline(); line.length > 0; line = this.readline()) lines.push(line);
    return lines;
  }

  *[Symbol.iterator](): Iterator<Buffer> {
    yield* this.readlines();
  }
}

/** `io.BytesIO` for collecting a datagram reply. */
export class BytesWriter implements Writer {
  #chunks: Buffer[] = [];
  #closed = false;

  get closed(): boolean { return this.#closed; }
  fileno(): number { return -1; }

  async write(data: Uint8Array | string): Promise<number> {
    if (this.#closed) throw closedError('write to closed file');
    const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
    this.#chunks.push(bytes);
    return bytes.length;
  }

  async flush(): Promise<void> { /* nothing to send until finish() */ }
  close(): void { this.#closed = true; }
  getValue(): Buffer { return Buffer.concat(this.#chunks); }
}
