/**
 * The transport interface: everything the server logic needs from a socket
 * layer. Two transports implement it: the native addon (the default,
 * `native-transport.ts`) and node:net / node:dgram (`socketserver/js`).
 *
 * Socket I/O is split in two: a synchronous, non-blocking attempt that
 * returns `null` when the kernel would block, and a wait for readiness.
 * The public socket classes (socket.ts) combine them, with timeouts.
 */

import type { ProxyInfo } from './proxy-protocol.js';

/** `[host, port]`, `[host, port, flowinfo, scopeId]` (IPv6), or a Unix path. */
export type Address = [string, number] | [string, number, number, number] | string;

export type SockOptValue = number | boolean | Buffer;

/** A datagram socket's limits (the settings of the datagram servers); stream sockets ignore them. */
export interface DatagramLimits {
  /** The longest datagram kept; a longer one is cut to it and flagged truncated. */
  maxPacketSize: number;
  /** The most datagrams that wait to be taken while the server is busy. */
  maxQueuedDatagrams: number;
  /** The most payload bytes that wait (an empty queue takes one datagram of any size). */
  maxQueuedBytes: number;
}

/**
 * The queue of datagrams that wait while handlers run (issue 13). The
 * transport keeps reading while the server is busy, as node:dgram does,
 * because the kernel's receive buffer alone is small: Linux's default
 * (212 992 bytes) holds 256 datagrams of 100 bytes, since each is charged
 * ~830 bytes, so a burst of 2 000 syslog lines overflowed it while one
 * handler ran. The defaults hold such a burst twice over (4096 datagrams;
 * 2 MiB is 20 000 such lines), and bound the memory at ~3 MiB: 2 MiB of
 * payload plus 176 bytes of bookkeeping per datagram natively. Beyond
 * either bound a datagram is read and dropped (droppedDatagrams).
 * DESIGN.md, "Datagram queue".
 */
export const DATAGRAM_DEFAULTS: Readonly<DatagramLimits> = { maxPacketSize: 8192, maxQueuedDatagrams: 4096, maxQueuedBytes: 2 * 1024 * 1024 };

/** A server's own socket: listening (stream) or bound (datagram). */
export interface ListenerHandle {
  fileno(): number;
  bind(address: Address): void;
  listen(backlog: number): void;
  setSockOpt(level: number, name: number, value: SockOptValue): void;
  getSockOpt(level: number, name: number): number;
  getSockName(): Address;
  /** How many requests one wake-up may take (1 keeps the kernel's backlog the queue), and the datagram limits. */
  configure(batchLimit: number, limits: DatagramLimits): void;
  /**
   * Where waitReady() waits: the native serve thread (true, the addon's
   * default) or libuv's main loop (false). Transports without a serve
   * thread always wait on the main loop and ignore it.
   */
  setServeThread?(on: boolean): void;
  /** True when a request can be taken now; may take it from the kernel without blocking. */
  readyNow(): boolean;
  /**
   * How many requests were taken from the kernel and wait to be taken
   * (without asking the kernel for more): what drain() serves before it
   * closes the socket.
   */
  queued(): number;
  /** Resolves true once a request is ready, false on timeout (seconds; null: none) or wake(). */
  waitReady(timeout: number | null): Promise<boolean>;
  /** Makes a pending waitReady() resolve (false) at once. */
  wake(): void;
  /** Takes a connection; throws the system error (EAGAIN when none). */
  takeStream(): [StreamHandle, Address];
  /**
   * Takes a datagram: payload (at most maxPacketSize bytes), sender,
   * truncated. The sender is null for an unnamed (unbound) Unix datagram
   * socket, as Python's recvfrom() gives None.
   */
  takeDatagram(): [Buffer, Address | null, boolean];
  /** Datagrams read and dropped because the queue was at its bounds (0 for a stream socket); readable after close(). */
  droppedDatagrams(): number;
  /**
   * Sends a datagram without blocking: bytes sent, or null when it would
   * block (then waitWritable() and try again). A transport that learns the
   * outcome only later (node:dgram tells it to the send's callback) returns
   * a promise of the bytes sent instead, rejected with the send's error:
   * each send its own, so concurrent replies cannot take each other's.
   */
  sendTo(data: Uint8Array, address: Address): number | null | Promise<number>;
  waitWritable(): Promise<void>;
  /**
   * A new descriptor of this socket, owned by the caller (a worker
   * thread's reply socket: Transport.adoptListener()). The native
   * transport only.
   */
  dup?(): number;
  close(): void;
}

/** A connected stream socket. */
export interface StreamHandle {
  fileno(): number;
  /** Up to n bytes; an empty Buffer at EOF; null when it would block. */
  recv(n: number): Buffer | null;
  /** Bytes of data[offset..] sent; null when it would block. */
  send(data: Uint8Array, offset: number): number | null;
  /** Resolves when recv() may return something (at once if it would now). */
  waitReadable(): Promise<void>;
  waitWritable(): Promise<void>;
  /** Abandons a pending wait in one direction: its promise never settles. */
  cancelWait(direction: 'read' | 'write'): void;
  shutdown(how: number): void;
  /** Closes the socket; pending waits resolve (the next call reports EBADF). */
  close(): void;
  getPeerName(): Address;
  getSockName(): Address;
  setSockOpt(level: number, name: number, value: SockOptValue): void;
  getSockOpt(level: number, name: number): number;
  /**
   * Gives up the descriptor without closing it and returns it (handed to a
   * worker thread, which adopts it); the handle is closed afterwards. Only
   * transports whose descriptors other threads can adopt have it.
   */
  release?(): number;
  /**
   * One step of the connection's PROXY protocol header (mode: 0 v1, 1 v2,
   * 2 any): [header, the bytes after it] once complete, null when more
   * must arrive. Throws ERR_SOCKETSERVER_PROXY_PROTOCOL. The native
   * transport only.
   */
  proxyStep?(mode: number): [ProxyInfo, Buffer] | null;
}

/** A child's end: its exit code, or the signal that ended it. */
export type ChildStatus = [code: number | null, signal: number | null];

/** Process control for ForkingMixIn; only transports that can fork have it. */
export interface ProcessControl {
  /** fork(): the child's pid in the parent, 0 in the child. Sockets but `keepFds` are neutralised in the child. */
  fork(keepFds: number[], watchdogSeconds: number | null): number;
  /** Ends a forked child at once with `status`. */
  exitChild(status: number): never;
  /** Reaps one child of ours: its status, or null while it runs. Never waits for other pids. */
  reap(pid: number, blocking: boolean): ChildStatus | null;
  /** Calls `onExit` once the child can be reaped; null where the pid cannot be watched (the caller polls with reap()). */
  watchExit(pid: number, onExit: () => void): { close(): void; ref(): void; unref(): void } | null;
  /** The real pid of this process (process.pid is cached). */
  getpid(): number;
  /** Where the last fork's time went, in microseconds. */
  stats(): { parkUs: number; sweepUs: number; forkUs: number; parkAttempts: number };
}

export interface Transport {
  readonly name: string;
  /** Closing a bound Unix socket removes its file whatever the server wants (libuv does). */
  readonly unlinksOnClose?: boolean;
  /** Present where the transport can fork (the native one, on the main thread). */
  readonly processes?: ProcessControl;
  /**
   * Present where a stream request can be handed to a worker thread
   * (ThreadingMixIn's workerThreads): makes the request back from a
   * descriptor another thread released. The native transport only.
   */
  readonly adoptStream?: (fd: number) => StreamHandle;
  /** True where the transport parses PROXY protocol headers (StreamHandle.proxyStep, proxyDatagram). The native one. */
  readonly proxyProtocol?: boolean;
  /**
   * A datagram's PROXY v2 header: [header, its size in bytes]. Throws
   * ERR_SOCKETSERVER_PROXY_PROTOCOL. Where proxyProtocol is true.
   */
  readonly proxyDatagram?: (data: Uint8Array) => [ProxyInfo, number];
  /**
   * Present where a descriptor of this process can become a server's
   * socket: a worker thread's reply socket for a datagram server (a dup()
   * of the server's). It must be of that family and type (a TypeError
   * otherwise, and the caller still owns it). The native transport only.
   */
  readonly adoptListener?: (family: number, type: number, fd: number) => ListenerHandle;
  /** Creates an unbound socket. Throws ERR_SOCKETSERVER_UNSUPPORTED for what it cannot do. */
  createListener(family: number, type: number): ListenerHandle;
}
