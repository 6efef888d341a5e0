/**
 * The default transport: the C++ addon. The server's socket has a serve
 * thread that waits with poll() and takes requests from the kernel; when the
 * server is busy, requests are taken on the main thread without waiting
 * (readyNow), so the thread hop is paid only when the server was idle.
 * Connection I/O is tried directly and waits on libuv's loop only on EAGAIN.
 */
import { isSystemError } from './errors.js';
import { loadAddon, type NativeAddon, type NativeConnection, type NativeListener } from './native.js';
import type { Address, ListenerHandle, ProcessControl, SockOptValue, StreamHandle, Transport } from './transport.js';

// The libuv poll events and serve-thread event kinds the addon reports.
const UV_READABLE = 1;
const UV_WRITABLE = 2;
const EV_READY = 1;
const EV_ERROR = 4;
// Address families (Linux).
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;

/**
 * Resolves once the socket is ready, or in error: libuv reports a socket
 * error on a poll handle only as a status, so the caller's next recv() or
 * send() is what reports the real error (ECONNRESET, EPIPE, ...). The same
 * holds for NativeStream's waits.
 */
function waitOn(target: NativeListener, events: number): Promise<void> {
  return new Promise<void>((resolve) => {
    target.poll(events, () => resolve());
  });
}

// Reads land in slices of a shared pool, as Node's own socket reads do: a
// short read then costs a view, not a new ArrayBuffer. A slice keeps its
// pool alive; a pool too full for the next read is left to the slices
// still using it. Large reads get their own buffer.
const READ_POOL_SIZE = 64 * 1024;
const READ_POOL_MAX_READ = 16 * 1024;
let readPool = Buffer.allocUnsafeSlow(READ_POOL_SIZE);
let readPoolOffset = 0;

/** Makes room for `n` bytes in the read pool (a new pool when it is too full). */
function poolRoom(n: number): void {
  if (READ_POOL_SIZE - readPoolOffset < n) {
    readPool = Buffer.allocUnsafeSlow(READ_POOL_SIZE);
    readPoolOffset = 0;
  }
}

/** The `got` bytes just written at the pool's offset, as a view; the offset moves on. */
function poolSlice(got: number): Buffer {
  const start = readPoolOffset;
  readPoolOffset = (start + got + 7) & ~7;  // keep slices 8-byte aligned
  return readPool.subarray(start, start + got);
}

// Datagrams have a pool of their own, small as Node's Buffer pool: most
// are short, and a larger one than what is left gets a buffer of its own.
const DGRAM_POOL_SIZE = 8 * 1024;
const DGRAM_POOL_ROOM = 512;
let dgramPool = Buffer.allocUnsafeSlow(DGRAM_POOL_SIZE);
let dgramPoolOffset = 0;

function recvPooled(conn: NativeConnection, n: number): Buffer | null {
  if (n > READ_POOL_MAX_READ) return conn.recv(n);
  poolRoom(n);
  const start = readPoolOffset;
  const got = conn.recvInto(readPool, start, n);
  return got === null ? null : poolSlice(got);
}

class NativeStream implements StreamHandle {
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

  constructor(private readonly conn: NativeConnection) {}

  fileno(): number { return this.conn.fileno(); }
  recv(n: number): Buffer | null { return recvPooled(this.conn, n); }
  send(data: Uint8Array, offset: number): number | null { return this.conn.send(data, offset); }
  // The promise executors, made once per socket rather than once per wait.
  readonly #startRead = (resolve: () => void): void => {
    this.#readResolve = resolve;
    this.conn.poll(UV_READABLE, this.#onReadable);
  };
  readonly #startWrite = (resolve: () => void): void => {
    this.#writeResolve = resolve;
    this.conn.poll(UV_WRITABLE, this.#onWritable);
  };

  waitReadable(): Promise<void> { return new Promise<void>(this.#startRead); }
  waitWritable(): Promise<void> { return new Promise<void>(this.#startWrite); }

  cancelWait(direction: 'read' | 'write'): void {
    if (direction === 'read') this.#readResolve = null;
    else this.#writeResolve = null;
    this.conn.cancelPoll(direction === 'read' ? UV_READABLE : UV_WRITABLE);
  }
  shutdown(how: number): void { this.conn.shutdown(how); }
  close(): void { this.conn.close(); }
  getPeerName(): Address { return this.conn.getPeerName(); }
  getSockName(): Address { return this.conn.getSockName(); }
  setSockOpt(level: number, name: number, value: SockOptValue): void { this.conn.setSockOpt(level, name, value); }
  getSockOpt(level: number, name: number): number { return this.conn.getSockOpt(level, name); }
}

class NativeListenerHandle implements ListenerHandle {
  private readonly sock: NativeListener;
  private readonly family: number;
  // What takeDatagram() fills in: [port, truncated, flowinfo, scopeId], and
  // the sender's host, which the addon sets only when it changes.
  readonly #meta = new Uint32Array(4);
  readonly #from = { host: '' };
  #fromValid = false;
  #readyWaiter: ((ready: boolean) => void) | null = null;
  #serveThread = true;
  #writable: Promise<void> | null = null;

  constructor(private readonly addon: NativeAddon, family: number, type: number) {
    this.sock = new addon.Listener(family, type);
    this.family = family;
  }

  fileno(): number { return this.sock.fileno(); }
  bind(address: Address): void { this.sock.bind(address); }
  listen(backlog: number): void { this.sock.listen(backlog); }
  setSockOpt(level: number, name: number, value: SockOptValue): void { this.sock.setSockOpt(level, name, value); }
  getSockOpt(level: number, name: number): number { return this.sock.getSockOpt(level, name); }
  getSockName(): Address { return this.sock.getSockName(); }
  configure(batchLimit: number, maxPacketSize: number): void { this.sock.configure(batchLimit, maxPacketSize); }
  readyNow(): boolean { return this.sock.readyNow(); }

  setServeThread(on: boolean): void { this.#serveThread = on; }

  waitReady(timeout: number | null): Promise<boolean> {
    if (!this.#serveThread) return this.#waitOnLoop(timeout);
    return new Promise<boolean>((resolve, reject) => {
      this.sock.arm(timeout, (kind, errno) => {
        this.#readyWaiter = null;
        if (kind === EV_ERROR) reject(this.addon.makeSystemError(errno, 'poll'));
        else resolve(kind === EV_READY);
      });
      this.#readyWaiter = resolve;
    });
  }

  /**
   * serveThread false: wait for readability on the main loop (the addon's
   * poll watch), so that a request reaches JS without a thread hop; the
   * request is then taken from the kernel by take()/readyNow().
   */
  #waitOnLoop(timeout: number | null): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      const settle = (ready: boolean): void => {
        if (this.#readyWaiter !== settle) return;
        this.#readyWaiter = null;
        if (timer !== null) clearTimeout(timer);
        if (!ready) this.sock.cancelPoll(UV_READABLE);
        resolve(ready);
      };
      this.#readyWaiter = settle;
      // A poll error also counts as ready: take() then reports the error.
      this.sock.poll(UV_READABLE, () => settle(true));
      if (timeout !== null && timeout * 1000 < 2 ** 31 - 1) timer = setTimeout(() => settle(false), Math.max(0, timeout * 1000));
    });
  }

  wake(): void {
    if (this.#serveThread) this.sock.wake();
    else this.#readyWaiter?.(false);
  }

  takeStream(): [StreamHandle, Address] {
    const [conn, address] = this.sock.take() as [NativeConnection, Address];
    return [new NativeStream(conn), address];
  }

  takeDatagram(): [Buffer, Address | null, boolean] {
    const meta = this.#meta;
    let data: Buffer;
    // Into the datagram pool when it fits there (the addon checks): a view
    // instead of an ArrayBuffer per datagram; a larger one gets its own.
    if (DGRAM_POOL_SIZE - dgramPoolOffset < DGRAM_POOL_ROOM) {
      dgramPool = Buffer.allocUnsafeSlow(DGRAM_POOL_SIZE);
      dgramPoolOffset = 0;
    }
    const start = dgramPoolOffset;
    const got = this.sock.takeDatagram(meta, this.#from, dgramPool, start);
    if (typeof got === 'number') {
      dgramPoolOffset = (start + got + 7) & ~7;
      data = dgramPool.subarray(start, start + got);
    } else {
      data = got;
    }
    this.#fromValid = true;
    const host = this.#from.host;
    let address: Address | null;
    if (this.family === AF_INET) address = [host, meta[0]];
    else if (this.family === AF_INET6) address = [host, meta[0], meta[2], meta[3]];
    // A bound Unix name is never empty (even autobind gives one), so an
    // empty one is an unnamed sender: null, as Python's recvfrom() has it.
    else address = host === '' ? null : host;
    return [data, address, meta[1] === 1];
  }

  sendTo(data: Uint8Array, address: Address): number | null {
    // A reply to the sender of the last datagram taken: the addon still has
    // its address, so the host string need not be parsed again.
    if (this.#fromValid) {
      const host = this.#from.host;
      if (typeof address === 'string') {
        if (address === host && this.family === AF_UNIX) return this.sock.sendToLast(data);
      } else if (Array.isArray(address) && address[0] === host) {
        if (address.length === 2) return this.sock.sendToLast(data, address[1]);
        if (this.family === AF_INET6) return this.sock.sendToLast(data, address[1], address[2], address[3]);
      }
    }
    return this.sock.sendTo(data, address);
  }
  /** One readiness wait for all the replies waiting to be sent (the addon takes one waiter per direction). */
  waitWritable(): Promise<void> {
    if (this.#writable === null) {
      this.#writable = waitOn(this.sock, UV_WRITABLE).then(() => {
        this.#writable = null;
      });
    }
    return this.#writable;
  }

  close(): void {
    if (!this.#serveThread) this.#readyWaiter?.(false);  // before the watch goes
    this.sock.close();  // wakes a waitWritable(); the waiters then see the socket closed
    // The serve thread stops without reporting: a serveForever() waiting
    // for a request hears "woken" and sees the socket closed.
    const resolve = this.#readyWaiter;
    this.#readyWaiter = null;
    resolve?.(false);
  }
}

const nativeProcesses: ProcessControl = {
  fork: (keepFds, watchdogSeconds) => loadAddon().forkRequest(keepFds, watchdogSeconds),
  exitChild: (status) => loadAddon().exitChild(status),
  reap: (pid, blocking) => loadAddon().reapChild(pid, blocking),
  watchExit(pid, onExit) {
    try {
      return new (loadAddon().ChildWatch)(pid, onExit);
    } catch (error) {
      // The child runs already, so a watch that cannot be made must not
      // fail the request: no pidfd (ENOSYS, Linux < 5.3), no descriptor
      // left (EMFILE), or the loop refused the watch. The caller then polls
      // with reap() instead.
      if (isSystemError(error)) return null;
      throw error;
    }
  },
  getpid: () => loadAddon().getpid(),
  stats: () => loadAddon().forkStats(),
};

export const nativeTransport: Transport = {
  name: 'native',
  processes: nativeProcesses,
  createListener(family: number, type: number): ListenerHandle {
    return new NativeListenerHandle(loadAddon(), family, type);
  },
};
