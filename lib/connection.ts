/**
 * A connection of the native transport (native/connection.cc): the
 * StreamHandle that a stream server's requests read and write through.
 * I/O is tried directly, non-blocking; it waits on libuv's loop only when
 * the kernel says EAGAIN.
 */
import { BufferPool } from './buffer-pool.js';
import type { NativeConnection, NativeConstants } from './native.js';
import type { ProxyInfo } from './proxy-protocol.js';
import type { Address, SockOptValue, StreamHandle } from './transport.js';

// Reads land in a shared pool (64 KiB, as Node's stream reads); a read
// larger than READ_POOL_MAX_READ gets a buffer of its own.
const READ_POOL_MAX_READ = 16 * 1024;
const readPool = new BufferPool(64 * 1024);

function recvPooled(conn: NativeConnection, n: number): Buffer | null {
  if (n > READ_POOL_MAX_READ) return conn.recv(n);
  const got = conn.recvInto(readPool.room(n), readPool.offset, n);
  return got === null ? null : readPool.take(got);
}

export class NativeStream implements StreamHandle {
  #readResolve: (() => void) | null = null;
  #writeResolve: (() => void) | null = null;
  // One callback per direction for the socket's life: the addon keeps its
  // reference across waits instead of making one per wait.
  readonly #onReadable = (): void => {
    const resolve = this.#readResolve;
    this.#readResolve = null;
    resolve?.();
  };
  readonly #onWritable = (): void => {
    const resolve = this.#writeResolve;
    this.#writeResolve = null;
    resolve?.();
  };

  /** `k`: the addon's constants (its poll events), read from it, not typed in here. */
  constructor(
    private readonly conn: NativeConnection,
    private readonly k: NativeConstants,
  ) {}

  fileno(): number { return this.conn.fileno(); }
  recv(n: number): Buffer | null { return recvPooled(this.conn, n); }
  send(data: Uint8Array, offset: number): number | null { return this.conn.send(data, offset); }
  proxyStep(mode: number): [ProxyInfo, Buffer] | null { return this.conn.proxyStep(mode); }
  // The promise executors, made once per socket rather than once per wait.
  readonly #startRead = (resolve: () => void): void => {
    this.#readResolve = resolve;
    this.conn.poll(this.k.POLLIN, this.#onReadable);
  };
  readonly #startWrite = (resolve: () => void): void => {
    this.#writeResolve = resolve;
    this.conn.poll(this.k.POLLOUT, this.#onWritable);
  };

  waitReadable(): Promise<void> { return new Promise<void>(this.#startRead); }
  waitWritable(): Promise<void> { return new Promise<void>(this.#startWrite); }

  cancelWait(direction: 'read' | 'write'): void {
    if (direction === 'read') this.#readResolve = null;
    else this.#writeResolve = null;
    this.conn.cancelPoll(direction === 'read' ? this.k.POLLIN : this.k.POLLOUT);
  }
  shutdown(how: number): void { this.conn.shutdown(how); }
  close(): void { this.conn.close(); }
  release(): number { return this.conn.release(); }
  getPeerName(): Address { return this.conn.getPeerName(); }
  getSockName(): Address { return this.conn.getSockName(); }
  setSockOpt(level: number, name: number, value: SockOptValue): void { this.conn.setSockOpt(level, name, value); }
  getSockOpt(level: number, name: number): number { return this.conn.getSockOpt(level, name); }
}
