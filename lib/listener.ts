/**
 * A server's socket on the native transport (native/listener.cc): binds,
 * listens, and waits for requests, on the addon's serve thread (the
 * default: it waits with poll() and takes requests from the kernel; when
 * the server is busy, requests are taken on the main thread without
 * waiting, readyNow(), so the thread hop is paid only when the server was
 * idle) or, with serveThread false, on Node's main loop. Stream servers
 * take connections here (connection.ts); datagram servers are datagram.ts,
 * which extends this.
 */
import { NativeStream } from './connection.js';
import { unsupported } from './errors.js';
import type { NativeAddon, NativeConnection, NativeListener } from './native.js';
import type { Address, DatagramLimits, ListenerHandle, SockOptValue, StreamHandle } from './transport.js';

export class NativeListenerHandle implements ListenerHandle {
  protected readonly sock: NativeListener;
  protected readonly family: number;
  #readyWaiter: ((ready: boolean) => void) | null = null;
  #serveThread = true;

  /** A new socket; with `fd`, that one adopted (a worker thread's reply socket). */
  constructor(protected readonly addon: NativeAddon, family: number, type: number, fd?: number) {
    this.sock = fd === undefined ? new addon.Listener(family, type) : new addon.Listener(family, type, fd);
    this.family = family;
  }

  fileno(): number { return this.sock.fileno(); }
  bind(address: Address): void { this.sock.bind(address); }
  listen(backlog: number): void { this.sock.listen(backlog); }
  setSockOpt(level: number, name: number, value: SockOptValue): void { this.sock.setSockOpt(level, name, value); }
  getSockOpt(level: number, name: number): number { return this.sock.getSockOpt(level, name); }
  getSockName(): Address { return this.sock.getSockName(); }
  configure(batchLimit: number, limits: DatagramLimits): void {
    this.sock.configure(batchLimit, limits.maxPacketSize, limits.maxQueuedDatagrams, limits.maxQueuedBytes);
  }
  droppedDatagrams(): number { return this.sock.droppedDatagrams(); }
  dup(): number { return this.sock.dup(); }
  queued(): number { return this.sock.queued(); }
  readyNow(): boolean { return this.sock.readyNow(); }

  setServeThread(on: boolean): void { this.#serveThread = on; }

  waitReady(timeout: number | null): Promise<boolean> {
    if (!this.#serveThread) return this.#waitOnLoop(timeout);
    return new Promise<boolean>((resolve, reject) => {
      this.sock.arm(timeout, (kind, errno) => {
        this.#readyWaiter = null;
        if (kind === this.addon.constants.EV_ERROR) reject(this.addon.makeSystemError(errno, 'poll'));
        else resolve(kind === this.addon.constants.EV_READY);
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
        if (!ready) this.sock.cancelPoll(this.addon.constants.POLLIN);
        resolve(ready);
      };
      this.#readyWaiter = settle;
      // A poll error also counts as ready: take() then reports the error.
      this.sock.poll(this.addon.constants.POLLIN, () => settle(true));
      if (timeout !== null && timeout * 1000 < 2 ** 31 - 1) timer = setTimeout(() => settle(false), Math.max(0, timeout * 1000));
    });
  }

  wake(): void {
    if (this.#serveThread) this.sock.wake();
    else this.#readyWaiter?.(false);
  }

  takeStream(): [StreamHandle, Address] {
    const [conn, address] = this.sock.take() as [NativeConnection, Address];
    return [new NativeStream(conn, this.addon.constants), address];
  }

  /** Datagram sockets only (datagram.ts). */
  takeDatagram(): [Buffer, Address | null, boolean] {
    throw unsupported('takeDatagram() on a stream socket');
  }

  /** Datagram sockets only (datagram.ts). */
  sendTo(data: Uint8Array, address: Address): number | null {
    throw unsupported('sendTo() on a stream socket');
  }

  /** Datagram sockets only (datagram.ts). */
  waitWritable(): Promise<void> {
    return Promise.reject(unsupported('waitWritable() on a stream socket'));
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
