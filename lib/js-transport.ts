/**
 * The pure-JavaScript transport (`socketserver/js`): the same server logic
 * over node:net and node:dgram, for comparison and where the addon cannot
 * load.
 *
 * Python's servers bind and listen synchronously in the constructor and
 * report the real port at once; node:net binds after a DNS tick and reports
 * errors as events. So a stream server's socket is a libuv handle made
 * through `process.binding('tcp_wrap' | 'pipe_wrap')` (bind and listen are
 * synchronous there, and separate, as in Python), which a net.Server then
 * adopts; a datagram socket is a dgram socket given a synchronous `lookup`,
 * so that its bind completes, or fails, before bind() returns.
 *
 * What it cannot do it refuses with ERR_SOCKETSERVER_UNSUPPORTED: Unix
 * datagram sockets (Node has none), fork, Linux abstract names (node:net
 * pads them to 108 bytes), SO_REUSEPORT (no Node API before 22.12), and
 * host names that are not in /etc/hosts (no synchronous DNS). Differences
 * that remain: libuv always sets SO_REUSEADDR on TCP listeners; node:net
 * accepts connections as they come, so `requestQueueSize` is only the
 * kernel backlog of what node:net has not accepted yet; `fileno()` is -1
 * until bind() (libuv makes the descriptor there); and closing a Unix
 * server removes its socket file (libuv unlinks a bound pipe's path).
 *
 * node:dgram reports a send's outcome only to its callback, a tick later:
 * so a datagram's sendTo() returns a promise of it, which rejects with the
 * same coded error (EMSGSIZE, ...) the native transport's sendto() throws.
 *
 * node:net and node:dgram take in whatever comes, while the server may be
 * busy: what waits to be taken is bounded here, so that a flood or a slow
 * handler cannot grow the process without end. Beyond the bound, what
 * arrives is dropped and counted on the listener:
 * - datagrams: at most the server's maxQueuedDatagrams datagrams and
 *   maxQueuedBytes payload bytes, the native transport's bounds; a datagram
 *   that finds either reached is dropped (droppedDatagrams(), public as
 *   the server's `droppedDatagrams`), as the kernel drops one that finds
 *   its receive buffer full;
 * - connections: at most max(requestQueueSize, 511) accepted connections
 *   (511: node:net's default backlog); one more is closed at once
 *   (`droppedConnections`), as net.Server's maxConnections closes it. Each
 *   waiting connection reads ahead at most 64 KiB (READ_HIGH_WATER).
 */
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { constants as os } from 'node:os';

import { constants } from './constants.js';
import { systemError, unsupported, wouldBlock } from './errors.js';
import { type Address, DATAGRAM_DEFAULTS, type DatagramLimits, type ListenerHandle, type SockOptValue, type StreamHandle, type Transport } from './transport.js';

// --- errors -----------------------------------------------------------------

function notOnThisTransport(what: string): Error {
  return unsupported(`${what} on the js transport`);
}

// --- host names, synchronously --------------------------------------------

let hostsFile: Map<string, string[]> | undefined;

function etcHosts(): Map<string, string[]> {
  if (hostsFile === undefined) {
    hostsFile = new Map();
    let text = '';
    try {
      text = fs.readFileSync('/etc/hosts', 'utf8');
    } catch {
      // No hosts file: only literals resolve.
    }
    for (const line of text.split('\n')) {
      const [ip, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (!ip || net.isIP(ip) === 0) continue;
      for (const name of names) {
        const list = hostsFile.get(name.toLowerCase()) ?? [];
        list.push(ip);
        hostsFile.set(name.toLowerCase(), list);
      }
    }
  }
  return hostsFile;
}

/** An IP literal for `host` in `family`: literals, '', '<broadcast>', and /etc/hosts names. */
// The last IP literal checked, per family: a server replies to the same few
// hosts, and net.isIP() is a regular expression.
const lastLiteral = { 4: '', 6: '' };

function resolveHost(host: string, family: number): string {
  const v6 = family === constants.AF_INET6;
  if (host !== '' && host === lastLiteral[v6 ? 6 : 4]) return host;
  if (host === '') return v6 ? '::' : '0.0.0.0';
  if (host === '<broadcast>' && !v6) return '255.255.255.255';
  const kind = net.isIP(host);
  if (kind !== 0) {
    lastLiteral[v6 ? 6 : 4] = host;
    return host;
  }
  const wanted = v6 ? 6 : 4;
  const found = etcHosts().get(host.toLowerCase())?.find((ip) => net.isIP(ip) === wanted);
  if (found === undefined && host.toLowerCase() === 'localhost') return v6 ? '::1' : '127.0.0.1';
  if (found === undefined) throw notOnThisTransport(`resolving the host name '${host}' (use an IP address or an /etc/hosts name)`);
  return found;
}

function ipAddress(host: string, port: number, family: number): Address {
  return family === constants.AF_INET6 ? [host, port, 0, 0] : [host, port];
}

// --- libuv handles through process.binding ----------------------------------

/** An accepted connection's libuv handle, before a net.Socket adopts it. */
interface UvClientHandle {
  close(callback?: () => void): void;
}

interface UvServerHandle {
  readonly fd: number;
  listen(backlog: number): number;
  close(callback?: () => void): void;
  ref(): void;
  unref(): void;
  /** libuv calls this with each accepted connection's handle (status < 0: accept failed). */
  onconnection: ((status: number, client: UvClientHandle | undefined) => void) | null;
}

interface UvTcpHandle extends UvServerHandle {
  bind(address: string, port: number): number;
  bind6(address: string, port: number, flags: number): number;
  getsockname(out: { address?: string; port?: number; family?: string }): number;
}

interface UvPipeHandle extends UvServerHandle {
  bind(path: string): number;
}

interface LegacyBindings {
  tcp_wrap: { TCP: new (type: number) => UvTcpHandle; constants: { SERVER: number } };
  pipe_wrap: { Pipe: new (type: number) => UvPipeHandle; constants: { SERVER: number } };
}

function legacyBinding<K extends keyof LegacyBindings>(name: K): LegacyBindings[K] {
  return (process as unknown as { binding(n: string): unknown }).binding(name) as LegacyBindings[K];
}

/** The descriptor of a node:net socket or server, -1 when it has none. */
function handleFd(owner: object): number {
  const handle = (owner as { _handle?: { fd?: number } | null })._handle;
  return typeof handle?.fd === 'number' ? handle.fd : -1;
}

// --- waiters ---------------------------------------------------------------

/** One pending wait, resolved by an event or abandoned. */
class Waiter<T> {
  #resolve: ((value: T) => void) | null = null;

  wait(): Promise<T> {
    return new Promise<T>((resolve) => {
      this.#resolve = resolve;
    });
  }

  wake(value: T): void {
    const resolve = this.#resolve;
    this.#resolve = null;
    resolve?.(value);
  }

  cancel(): void {
    this.#resolve = null;
  }
}

// --- connected stream sockets ------------------------------------------------

/** What recv() keeps in memory before it stops reading from the socket. */
const READ_HIGH_WATER = 64 * 1024;
/** What send() lets node:net buffer before it reports "would block". */
const WRITE_HIGH_WATER = 256 * 1024;
/** How long close() lets unsent data drain before it gives up on the peer. */
const CLOSE_LINGER_MS = 30_000;

/** setTimeout()'s largest delay; a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

class JsStream implements StreamHandle {
  #sock: net.Socket;
  #family: number;
  #localPath: string;
  #chunks: Buffer[] = [];
  #size = 0;
  #eof = false;
  #error: Error | null = null;
  #readable = new Waiter<void>();
  #writable = new Waiter<void>();
  #noDelay = 0;
  #keepAlive = 0;
  /** The peer's address as accept() saw it (the socket may be reset before a handler runs). */
  readonly acceptedFrom: Address;

  constructor(sock: net.Socket, family: number, localPath: string) {
    this.#sock = sock;
    this.#family = family;
    this.#localPath = localPath;
    this.acceptedFrom = this.getPeerName();
    sock.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#size += chunk.length;
      if (this.#size >= READ_HIGH_WATER) sock.pause();
      this.#readable.wake();
    });
    sock.on('end', () => {
      this.#eof = true;
      this.#readable.wake();
    });
    sock.on('error', (error: Error) => {
      this.#error = error;
      this.#readable.wake();
      this.#writable.wake();
    });
    sock.on('close', () => {
      this.#eof = true;
      this.#readable.wake();
      this.#writable.wake();
    });
    sock.on('drain', () => this.#writable.wake());
  }

  fileno(): number {
    return handleFd(this.#sock);
  }

  recv(n: number): Buffer | null {
    if (this.#size > 0) {
      let out: Buffer;
      const first = this.#chunks[0];
      if (first.length > n) {
        out = first.subarray(0, n);
        this.#chunks[0] = first.subarray(n);
      } else if (first.length === n || this.#chunks.length === 1) {
        out = first;
        this.#chunks.shift();
      } else {
        const taken: Buffer[] = [];
        let size = 0;
        while (this.#chunks.length > 0 && size + this.#chunks[0].length <= n) {
          const chunk = this.#chunks.shift() as Buffer;
          taken.push(chunk);
          size += chunk.length;
        }
        out = Buffer.concat(taken, size);
      }
      this.#size -= out.length;
      if (this.#size < READ_HIGH_WATER && this.#sock.isPaused()) this.#sock.resume();
      return out;
    }
    if (this.#error !== null) throw this.#error;
    if (this.#eof) return Buffer.alloc(0);
    return null;
  }

  send(data: Uint8Array, offset: number): number | null {
    if (this.#error !== null) throw this.#error;
    if (this.#sock.destroyed || !this.#sock.writable) throw systemError('EPIPE', 'send');
    // Take what fits under the high-water mark, as send(2) takes what fits
    // in the socket buffer; a copy, since the caller may reuse its buffer.
    const room = WRITE_HIGH_WATER - this.#sock.writableLength;
    if (room <= 0) return null;
    const chunk = offset === 0 && data.length <= room ? Buffer.from(data) : Buffer.from(data.subarray(offset, offset + room));
    this.#sock.write(chunk);
    return chunk.length;
  }

  waitReadable(): Promise<void> {
    // Ready already: still one turn of the event loop, as the native
    // transport's readiness wait takes; a reader that waits after 64 KiB
    // without a wait lets other sockets and timers run that way.
    if (this.#size > 0 || this.#eof || this.#error !== null) return new Promise((resolve) => setImmediate(resolve));
    return this.#readable.wait();
  }

  waitWritable(): Promise<void> {
    return this.#writable.wait();
  }

  cancelWait(direction: 'read' | 'write'): void {
    (direction === 'read' ? this.#readable : this.#writable).cancel();
  }

  shutdown(how: number): void {
    if (how === constants.SHUT_WR || how === constants.SHUT_RDWR) this.#sock.end();
    if (how === constants.SHUT_RD || how === constants.SHUT_RDWR) {
      this.#sock.pause();
      this.#chunks = [];
      this.#size = 0;
      this.#eof = true;
    }
  }

  close(): void {
    const sock = this.#sock;
    this.#readable.wake();
    this.#writable.wake();
    if (sock.destroyed) return;
    if (sock.writableLength === 0) {
      sock.destroy();
      return;
    }
    // Like close(2): unsent data still goes out, unless the peer never reads.
    sock.destroySoon();
    setTimeout(() => sock.destroy(), CLOSE_LINGER_MS).unref();
  }

  getPeerName(): Address {
    if (this.#family === constants.AF_UNIX) return '';
    return ipAddress(this.#sock.remoteAddress ?? '', this.#sock.remotePort ?? 0, this.#family);
  }

  getSockName(): Address {
    if (this.#family === constants.AF_UNIX) return this.#localPath;
    return ipAddress(this.#sock.localAddress ?? '', this.#sock.localPort ?? 0, this.#family);
  }

  setSockOpt(level: number, name: number, value: SockOptValue): void {
    const on = typeof value === 'boolean' ? Number(value) : typeof value === 'number' ? value : value.length > 0 ? value[0] : 0;
    if (level === constants.IPPROTO_TCP && name === constants.TCP_NODELAY && this.#family !== constants.AF_UNIX) {
      this.#noDelay = on ? 1 : 0;
      this.#sock.setNoDelay(on !== 0);
    } else if (level === constants.SOL_SOCKET && name === constants.SO_KEEPALIVE) {
      this.#keepAlive = on ? 1 : 0;
      this.#sock.setKeepAlive(on !== 0);
    } else {
      throw notOnThisTransport(`setsockopt(${level}, ${name})`);
    }
  }

  getSockOpt(level: number, name: number): number {
    if (level === constants.IPPROTO_TCP && name === constants.TCP_NODELAY) return this.#noDelay;
    if (level === constants.SOL_SOCKET && name === constants.SO_KEEPALIVE) return this.#keepAlive;
    throw notOnThisTransport(`getsockopt(${level}, ${name})`);
  }
}

// --- server sockets ----------------------------------------------------------

/**
 * What a listener shares: a queue of taken requests and one waiter for
 * more. Its socket keeps the process alive only while a wait is pending
 * (a bound, idle server does not, as with the native transport).
 */
abstract class JsListener<Item> {
  protected queue: Item[] = [];
  protected closed = false;
  #ready = new Waiter<boolean>();
  #timer: NodeJS.Timeout | undefined;
  #waiting = false;

  /** Keep the event loop alive for this socket, or stop keeping it. */
  protected abstract keepAlive(on: boolean): void;

  configure(): void {
    // node:net and node:dgram take what comes; there is no batch to size.
  }

  droppedDatagrams(): number {
    return 0;
  }

  readyNow(): boolean {
    return this.queue.length > 0;
  }

  queued(): number {
    return this.queue.length;
  }

  waitReady(timeout: number | null): Promise<boolean> {
    if (this.queue.length > 0) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    const promise = this.#ready.wait();
    this.#waiting = true;
    this.keepAlive(true);
    // Beyond setTimeout's range (~24.8 days; Infinity included) is forever.
    if (timeout !== null && timeout * 1000 < MAX_TIMER_MS) this.#timer = setTimeout(() => this.#wake(false), Math.max(0, timeout * 1000));
    return promise;
  }

  wake(): void {
    this.#wake(false);
  }

  protected arrived(item: Item): void {
    this.queue.push(item);
    // While the server is busy nobody waits: nothing to wake, no timer or
    // ref to touch per request.
    if (this.#waiting) this.#wake(true);
  }

  #wake(ready: boolean): void {
    if (!this.#waiting) return;
    this.#waiting = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.closed) this.keepAlive(false);
    this.#ready.wake(ready);
  }

  protected take(syscall: string): Item {
    const item = this.queue.shift();
    if (item === undefined) throw wouldBlock(syscall);
    return item;
  }
}

/**
 * The least number of accepted connections that may wait to be taken,
 * whatever requestQueueSize says: node:net's own default backlog. Python's
 * default requestQueueSize, 5, would close clients that the kernel's
 * backlog only delays (the native transport's behaviour).
 */
const MIN_QUEUED_CONNECTIONS = 511;

class JsStreamListener extends JsListener<JsStream> implements ListenerHandle {
  #family: number;
  #handle: UvTcpHandle | UvPipeHandle;
  #path = '';
  #bound: Address | null = null;
  /** How many accepted connections may wait to be taken: set by listen(). */
  #maxQueued = MIN_QUEUED_CONNECTIONS;
  /** Connections closed on arrival because the queue was full (a later issue makes it public). */
  droppedConnections = 0;

  constructor(family: number) {
    super();
    this.#family = family;
    if (family === constants.AF_UNIX) {
      const { Pipe, constants: c } = legacyBinding('pipe_wrap');
      this.#handle = new Pipe(c.SERVER);
    } else {
      const { TCP, constants: c } = legacyBinding('tcp_wrap');
      this.#handle = new TCP(c.SERVER);
    }
    this.#handle.unref();
  }

  protected keepAlive(on: boolean): void {
    if (on) this.#handle.ref();
    else this.#handle.unref();
  }

  fileno(): number {
    return this.closed ? -1 : this.#handle.fd;
  }

  bind(address: Address): void {
    if (this.#family === constants.AF_UNIX) {
      const path = address as string;
      if (path.startsWith('\0')) throw notOnThisTransport('Linux abstract socket names (node:net pads them to 108 bytes)');
      const err = (this.#handle as UvPipeHandle).bind(path);
      if (err) throw systemError(err, 'bind', path);
      this.#path = path;
      this.#bound = path;
      return;
    }
    const [host, port] = address as [string, number];
    const ip = resolveHost(host, this.#family);
    const tcp = this.#handle as UvTcpHandle;
    const err = this.#family === constants.AF_INET6 ? tcp.bind6(ip, port, 0) : tcp.bind(ip, port);
    if (err) throw systemError(err, 'bind', ip, port);
    const out: { address?: string; port?: number } = {};
    tcp.getsockname(out);
    this.#bound = ipAddress(out.address ?? ip, out.port ?? port, this.#family);
  }

  listen(backlog: number): void {
    // Connections arrive as libuv handles, each wrapped in a net.Socket as
    // net.Server does; half-open, so a client's shutdown(SHUT_WR) reads as
    // EOF while the handler can still reply (Python's semantics).
    this.#handle.onconnection = (status, client) => {
      // A failed accept (EMFILE, ...): libuv retries; nothing to hand over.
      if (status < 0 || client === undefined) return;
      // node:net accepts whatever comes, so the bound is ours: beyond it the
      // connection is closed at once, as net.Server's maxConnections does
      // (before a net.Socket is made for it: nothing is read from it).
      if (this.queue.length >= this.#maxQueued) {
        this.droppedConnections++;
        client.close();
        return;
      }
      // Wrapped at once, so that its events have a listener while it waits
      // in the queue: a client that resets before the server takes the
      // connection must not be an unhandled 'error' (a crash).
      const options = { handle: client, allowHalfOpen: true, readable: true, writable: true };
      this.arrived(new JsStream(new net.Socket(options as net.SocketConstructorOpts), this.#family, this.#path));
    };
    // The kernel's backlog bounds what waits to be accepted; this bounds
    // what was accepted and waits to be taken: requestQueueSize, or more.
    this.#maxQueued = Math.max(backlog, MIN_QUEUED_CONNECTIONS);
    const err = this.#handle.listen(backlog);
    if (err) {
      // libuv reports a bind() that failed with EADDRINUSE only here.
      const bound = Array.isArray(this.#bound) ? this.#bound : null;
      throw err === -os.errno.EADDRINUSE && bound ? systemError(err, 'bind', bound[0], bound[1]) : systemError(err, 'listen');
    }
  }

  setSockOpt(level: number, name: number, value: SockOptValue): void {
    // libuv always sets SO_REUSEADDR on TCP listeners.
    if (level === constants.SOL_SOCKET && name === constants.SO_REUSEADDR) return;
    if (level === constants.SOL_SOCKET && name === constants.SO_REUSEPORT) throw notOnThisTransport('SO_REUSEPORT (allowReusePort)');
    throw notOnThisTransport(`setsockopt(${level}, ${name})`);
  }

  getSockOpt(level: number, name: number): number {
    if (level === constants.SOL_SOCKET && name === constants.SO_REUSEADDR) return 1;
    throw notOnThisTransport(`getsockopt(${level}, ${name})`);
  }

  getSockName(): Address {
    if (this.closed) throw systemError('EBADF', 'getsockname');
    if (this.#bound !== null) return this.#bound;
    return this.#family === constants.AF_UNIX ? '' : ipAddress(this.#family === constants.AF_INET6 ? '::' : '0.0.0.0', 0, this.#family);
  }

  takeStream(): [StreamHandle, Address] {
    const stream = this.take('accept');
    return [stream, stream.acceptedFrom];
  }

  takeDatagram(): [Buffer, Address, boolean] {
    throw notOnThisTransport('recvfrom on a stream socket');
  }

  sendTo(): number | null {
    throw notOnThisTransport('sendto on a stream socket');
  }

  waitWritable(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.queue) stream.close();
    this.queue = [];
    this.#handle.onconnection = null;
    this.#handle.close();
    this.wake();
  }
}

type Datagram = [Buffer, Address, boolean];

const EMPTY = Buffer.alloc(0);
const UV_ECANCELED = -os.errno.ECANCELED;

/** A dgram lookup that answers at once, so bind() completes before it returns. */
function syncLookup(family: number) {
  return (host: string, options: unknown, callback?: (err: Error | null, address: string, family: number) => void): void => {
    const cb = (typeof options === 'function' ? options : callback) as (err: Error | null, address: string, family: number) => void;
    try {
      cb(null, resolveHost(host, family), family === constants.AF_INET6 ? 6 : 4);
    } catch (error) {
      cb(error as Error, '', 0);
    }
  };
}

class JsDatagramListener extends JsListener<Datagram | Error> implements ListenerHandle {
  #family: number;
  #sock: dgram.Socket;
  #reuseAddr = false;
  #bound = false;
  /** What waits to be taken, in datagrams and payload bytes, and its bounds (configure()). */
  #queuedBytes = 0;
  #limits: DatagramLimits = DATAGRAM_DEFAULTS;
  /** Datagrams read and dropped because the queue was at its bounds. */
  #dropped = 0;

  constructor(family: number) {
    super();
    this.#family = family;
    this.#sock = this.#create();
  }

  #create(): dgram.Socket {
    const sock = dgram.createSocket({
      type: this.#family === constants.AF_INET6 ? 'udp6' : 'udp4',
      reuseAddr: this.#reuseAddr,
      lookup: syncLookup(this.#family) as unknown as dgram.SocketOptions['lookup'],
    });
    sock.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      // node:dgram reads whatever comes, so the bound is ours, the native
      // transport's: a datagram that would pass either bound is dropped
      // (one is always taken into an empty queue, however large).
      const { maxPacketSize, maxQueuedDatagrams, maxQueuedBytes } = this.#limits;
      const length = Math.min(msg.length, maxPacketSize);
      if (this.queue.length > 0 && (this.queue.length >= maxQueuedDatagrams || this.#queuedBytes + length > maxQueuedBytes)) {
        this.#dropped++;
        return;
      }
      const truncated = msg.length > maxPacketSize;
      // A truncated datagram keeps a copy of its start: a view would hold
      // all of it (up to 64 KiB) while the handler gets maxPacketSize.
      const data = truncated ? Buffer.from(msg.subarray(0, maxPacketSize)) : msg;
      this.#queuedBytes += data.length;
      this.arrived([data, ipAddress(rinfo.address, rinfo.port, this.#family), truncated]);
    });
    sock.unref();
    return sock;
  }

  protected keepAlive(on: boolean): void {
    if (on) this.#sock.ref();
    else this.#sock.unref();
  }

  override configure(batchLimit?: number, limits?: DatagramLimits): void {
    if (limits !== undefined) this.#limits = { ...limits };
  }

  override droppedDatagrams(): number {
    return this.#dropped;
  }

  fileno(): number {
    if (this.closed || !this.#bound) return -1;
    // dgram keeps its handle under a symbol; its descriptor is the only way to fileno().
    for (const sym of Object.getOwnPropertySymbols(this.#sock)) {
      const state = (this.#sock as unknown as Record<symbol, { handle?: { fd?: number } }>)[sym];
      if (typeof state?.handle?.fd === 'number') return state.handle.fd;
    }
    return -1;
  }

  bind(address: Address): void {
    const [host, port] = address as [string, number];
    let failure: Error | undefined;
    const onError = (error: Error): void => {
      failure = error;
    };
    this.#sock.once('error', onError);
    this.#sock.bind(port, host);
    this.#sock.off('error', onError);
    if (failure !== undefined) throw failure;
    // Send errors go to their send's callback; what dgram still emits is a
    // failed receive. It must not crash the process (an unhandled 'error'),
    // and it is reported where the native transport reports it: by the
    // take that would have read the datagram (recvfrom), which the server
    // drops, as Python's does. Under the count bound too: the kernel keeps
    // one pending error per socket, not a history of them.
    this.#sock.on('error', (error: Error) => {
      if (this.queue.length >= this.#limits.maxQueuedDatagrams) return;
      const errno = (error as { errno?: unknown }).errno;
      this.arrived(typeof errno === 'number' ? systemError(errno, 'recvfrom') : error);
    });
    this.#bound = true;
  }

  listen(): void {
    // Datagram sockets do not listen.
  }

  setSockOpt(level: number, name: number, value: SockOptValue): void {
    const on = typeof value === 'boolean' ? value : typeof value === 'number' ? value !== 0 : value.length > 0;
    if (level === constants.SOL_SOCKET && name === constants.SO_REUSEADDR && !this.#bound) {
      // dgram takes reuseAddr at creation: make the (unbound) socket again.
      this.#reuseAddr = on;
      this.#sock.close();
      this.#sock = this.#create();
      return;
    }
    if (level === constants.SOL_SOCKET && name === constants.SO_RCVBUF && this.#bound && typeof value === 'number') {
      this.#sock.setRecvBufferSize(value);
      return;
    }
    if (level === constants.SOL_SOCKET && name === constants.SO_SNDBUF && this.#bound && typeof value === 'number') {
      this.#sock.setSendBufferSize(value);
      return;
    }
    if (level === constants.SOL_SOCKET && name === constants.SO_REUSEPORT) throw notOnThisTransport('SO_REUSEPORT (allowReusePort)');
    throw notOnThisTransport(`setsockopt(${level}, ${name})`);
  }

  getSockOpt(level: number, name: number): number {
    if (level === constants.SOL_SOCKET && name === constants.SO_REUSEADDR) return this.#reuseAddr ? 1 : 0;
    if (level === constants.SOL_SOCKET && name === constants.SO_RCVBUF) return this.#sock.getRecvBufferSize();
    if (level === constants.SOL_SOCKET && name === constants.SO_SNDBUF) return this.#sock.getSendBufferSize();
    throw notOnThisTransport(`getsockopt(${level}, ${name})`);
  }

  getSockName(): Address {
    if (this.closed) throw systemError('EBADF', 'getsockname');
    if (!this.#bound) return ipAddress(this.#family === constants.AF_INET6 ? '::' : '0.0.0.0', 0, this.#family);
    const { address, port } = this.#sock.address();
    return ipAddress(address, port, this.#family);
  }

  takeStream(): [StreamHandle, Address] {
    throw notOnThisTransport('accept on a datagram socket');
  }

  takeDatagram(): [Buffer, Address, boolean] {
    const item = this.take('recvfrom');
    if (item instanceof Error) throw item;
    this.#queuedBytes -= item[0].length;
    return item;
  }

  /**
   * node:dgram tells a send's outcome (bytes, or the error: EMSGSIZE, ...)
   * only to its callback, in a later tick: so the result is a promise of
   * it, one per send, which concurrent replies cannot confuse.
   */
  sendTo(data: Uint8Array, address: Address): Promise<number> {
    if (this.closed) throw systemError('EBADF', 'sendto');
    const [host, port] = address as [string, number];
    // A copy: dgram may send later, and the caller may reuse its buffer.
    this.#sendData = Buffer.from(data);
    this.#sendPort = port;
    this.#sendIp = resolveHost(host, this.#family);
    try {
      return new Promise<number>(this.#startSend);
    } finally {
      this.#sendData = EMPTY;
    }
  }

  // What sendTo() passes to #startSend, its promise executor: one executor
  // for the socket's life, so that a send makes one closure, its callback.
  #sendData = EMPTY;
  #sendPort = 0;
  #sendIp = '';
  readonly #startSend = (resolve: (sent: number) => void, reject: (error: Error) => void): void => {
    const ip = this.#sendIp;
    const port = this.#sendPort;
    this.#sock.send(this.#sendData, port, ip, (error, sent) => {
      if (error === null) resolve(sent);
      else reject(this.#sendError(error, ip, port));
    });
  };

  /** A send's error as the native transport's sendto() reports it. */
  #sendError(error: Error, ip: string, port: number): Error {
    const errno = (error as { errno?: unknown }).errno;
    if (typeof errno !== 'number') return error;
    // ECANCELED: closed under a send that libuv had queued. Reported as a
    // sendTo() after close() is, here and on the native transport: EBADF.
    if (errno === UV_ECANCELED) return systemError('EBADF', 'sendto');
    return systemError(errno, 'sendto', ip, port);
  }

  waitWritable(): Promise<void> {
    // sendTo() never says "would block" here: its promise is the wait.
    return Promise.resolve();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.#queuedBytes = 0;
    this.#sock.close();
    this.wake();
  }
}

export const jsTransport: Transport = {
  name: 'js',
  unlinksOnClose: true,
  createListener(family: number, type: number): ListenerHandle {
    if (family === constants.AF_UNIX && type === constants.SOCK_DGRAM) {
      throw notOnThisTransport('Unix datagram sockets (Node has no API for them)');
    }
    if (family !== constants.AF_INET && family !== constants.AF_INET6 && family !== constants.AF_UNIX) {
      throw notOnThisTransport(`address family ${family}`);
    }
    if (type === constants.SOCK_STREAM) return new JsStreamListener(family);
    if (type === constants.SOCK_DGRAM) return new JsDatagramListener(family);
    throw notOnThisTransport(`socket type ${type}`);
  },
};
