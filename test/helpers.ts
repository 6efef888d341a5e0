/**
 * Shared test helpers: the transports under test, temp dirs for Unix paths,
 * descriptor counting, bounded waits, and plain clients (node:net,
 * node:dgram, the raw addon for Unix datagrams, python3 for abstract-name
 * stream sockets).
 */
import * as childProcess from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export type SS = typeof import('../dist/index.js');
export type Address = [string, number] | [string, number, number, number] | string;

/**
 * Asks the running Node, through plain node:net and nothing of ours, whether
 * a peer's reset that arrives with the last data reaches a reader as
 * ECONNRESET (seen on Node 24 and 26) or as EOF (seen on Node 20 and 22,
 * whose libuv reads a short read with the hang-up as the end).
 * The js transport reports what node:net reports, so its `resetIsError`
 * capability is this answer, never one version's assumption. A child
 * process, because the capabilities are needed synchronously at load.
 */
function nodeNetResetIsError(): boolean {
  const probe = `
    const net = require('node:net'), fs = require('node:fs'), os = require('node:os'), path = require('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-probe-'));
    const p = path.join(dir, 's');
    const done = (answer) => { fs.rmSync(dir, { recursive: true, force: true }); process.stdout.write(answer); process.exit(0); };
    setTimeout(() => done('timeout'), 5000).unref();
    // The client sends, then closes with the server's greeting unread:
    // Linux sets ECONNRESET on the server's end, behind the data.
    let accepted, connected;
    const start = () => {
      if (!accepted || !connected) return;
      accepted.write('greeting\\n', () => { client.write('partial'); client.destroy(); });
    };
    const server = net.createServer({ allowHalfOpen: true }, (sock) => {
      let data = 0;
      sock.on('data', (d) => { data += d.length; });
      sock.on('error', (e) => done(data === 7 && e.code === 'ECONNRESET' ? 'error' : 'other ' + e.code + ' ' + data));
      sock.on('end', () => done(data === 7 ? 'eof' : 'other end ' + data));
      accepted = sock;
      start();
    });
    let client;
    server.listen(p, () => {
      client = net.connect(p);
      client.on('error', () => {});
      client.on('connect', () => { client.pause(); connected = true; start(); });
    });
  `;
  const r = childProcess.spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 10000 });
  if (r.stdout !== 'error' && r.stdout !== 'eof') {
    throw new Error(`the node:net reset probe gave ${JSON.stringify(r.stdout)} (stderr ${JSON.stringify(r.stderr)})`);
  }
  return r.stdout === 'error';
}

/** The repository root (this file runs from `.test-out/test/`). */
export const ROOT = findRoot(__dirname);

function findRoot(start: string): string {
  let dir = start;
  for (let i = 0; i < 10; i++) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if (JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'socketserver') return dir;
      } catch {
        /* not ours */
      }
    }
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find the socketserver package root above ${start}`);
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const nativeSS = require(path.join(ROOT, 'dist', 'index.js')) as SS;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const jsSS = require(path.join(ROOT, 'dist', 'js.js')) as SS;

/**
 * What a transport can do, so that tests say what they need rather than
 * testing the transport's name. Where a capability is missing, the tests
 * assert the refusal or the documented difference instead (lib/js-transport.ts's
 * header; test/60-js-refused-servers, 62-js-addresses, 63-js-socket-options and
 * 64-js-listening-socket test each one, 65-js-capabilities that these are the
 * real ones).
 */
export interface Caps {
  /** Unix datagram servers (else: ERR_SOCKETSERVER_UNSUPPORTED at construction). */
  unixDatagram: boolean;
  /** Linux abstract names ('\0name') for Unix stream servers (else: refused). */
  abstractNames: boolean;
  /** allowReusePort: true (else: refused at construction). */
  reusePort: boolean;
  /** ForkingMixIn (else: refused at construction). */
  fork: boolean;
  /** allowReuseAddress false is honoured by TCP servers (else: SO_REUSEADDR is always 1). */
  reuseAddressOff: boolean;
  /** requestQueueSize bounds the connections taken (else: they are accepted as they come). */
  realBacklog: boolean;
  /** fileno() is a descriptor as soon as the server is constructed (else: -1 until bind()). */
  filenoBeforeBind: boolean;
  /** Any setsockopt/getsockopt (else: only the documented few; others refused). */
  sockOpts: boolean;
  /** Any resolvable host name (else: IP literals, '', 'localhost' and /etc/hosts names). */
  hostNames: boolean;
  /** unlinkOnClose: false keeps a Unix server's socket file, as Python does (else: refused; libuv removes it). */
  keepsSocketFile: boolean;
  /**
   * A peer's reset always reaches the handler's read as ECONNRESET, after
   * the data sent before it (else: a reset that comes in the same wake-up as
   * the last data reads as EOF, TCP and Unix alike). For the js transport
   * this is what the running Node's node:net does: nodeNetResetIsError().
   */
  resetIsError: boolean;
}

export interface TransportUnderTest {
  name: string;
  ss: SS;
  caps: Caps;
  /** The module's CommonJS and ESM files (package exports '.' / './js'). */
  cjs: string;
  esm: string;
  /** The package specifier of the module. */
  specifier: string;
}

/** Every test file runs its cases once per transport. */
export const transports: TransportUnderTest[] = [
  {
    name: 'native',
    ss: nativeSS,
    cjs: path.join(ROOT, 'dist', 'index.js'),
    esm: path.join(ROOT, 'dist', 'index.mjs'),
    specifier: 'socketserver',
    caps: {
      unixDatagram: true,
      abstractNames: true,
      reusePort: true,
      fork: true,
      reuseAddressOff: true,
      realBacklog: true,
      filenoBeforeBind: true,
      sockOpts: true,
      hostNames: true,
      keepsSocketFile: true,
      resetIsError: true,
    },
  },
  {
    name: 'js',
    ss: jsSS,
    cjs: path.join(ROOT, 'dist', 'js.js'),
    esm: path.join(ROOT, 'dist', 'js.mjs'),
    specifier: 'socketserver/js',
    caps: {
      unixDatagram: false,
      abstractNames: false,
      reusePort: false,
      fork: false,
      reuseAddressOff: false,
      realBacklog: false,
      filenoBeforeBind: false,
      sockOpts: false,
      hostNames: false,
      keepsSocketFile: false,
      resetIsError: nodeNetResetIsError(),
    },
  },
];

export const UNSUPPORTED = 'ERR_SOCKETSERVER_UNSUPPORTED';

/**
 * Asserts that `fn` throws an Error whose code is ERR_SOCKETSERVER_UNSUPPORTED
 * (a transport's refusal), and that it leaves no descriptor behind; returns
 * the error.
 */
export function expectUnsupported(fn: () => unknown, what = 'the operation'): Error & { code?: string } {
  const before = fdCount();
  let error: unknown;
  let threw = false;
  try {
    fn();
  } catch (e) {
    threw = true;
    error = e;
  }
  if (!threw) throw new Error(`expected ${UNSUPPORTED} from ${what}, nothing was thrown`);
  if (!(error instanceof Error) || (error as { code?: string }).code !== UNSUPPORTED) {
    const shown = error instanceof Error ? `${(error as { code?: string }).code}: ${error.stack}` : String(error);
    throw new Error(`expected ${UNSUPPORTED} from ${what}, got ${shown}`);
  }
  const after = fdCount();
  if (after !== before) throw new Error(`${what}: refused, but descriptors went from ${before} to ${after}`);
  return error as Error & { code?: string };
}

/** The public names of API.md's "Module exports". */
export const SYNC_NAMES = [
  'BaseServer',
  'TCPServer',
  'UDPServer',
  'UnixStreamServer',
  'UnixDatagramServer',
  'BaseRequestHandler',
  'StreamRequestHandler',
  'DatagramRequestHandler',
  'constants',
];
/** The mix-ins and their ready-made classes (a later issue). */
export const MIXIN_NAMES = [
  'ThreadingMixIn',
  'ForkingMixIn',
  'ThreadingTCPServer',
  'ThreadingUDPServer',
  'ThreadingUnixStreamServer',
  'ThreadingUnixDatagramServer',
  'ForkingTCPServer',
  'ForkingUDPServer',
  'ForkingUnixStreamServer',
  'ForkingUnixDatagramServer',
];
export const API_NAMES = [...SYNC_NAMES, ...MIXIN_NAMES];

export const HOST = '127.0.0.1';
export const TEST_STR = Buffer.from('hello world\n');

// ---------------------------------------------------------------- the addon

/** The addon file the package loads (lib/native.ts decides: SOCKETSERVER_NATIVE, build/Release, prebuilds/). */
export function nativeAddonPath(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(path.join(ROOT, 'dist', 'native.js')) as typeof import('../dist/native.js')).addonPath();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let addon: any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function nativeAddon(): any {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (addon === undefined) addon = require(nativeAddonPath());
  return addon;
}

// ---------------------------------------------------------------- misc

/** Open descriptors of this process. */
export function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
  settled: boolean;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const d: Deferred<T> = {
    promise,
    settled: false,
    resolve(value: T) {
      d.settled = true;
      resolve(value);
    },
    reject(error: unknown) {
      d.settled = true;
      reject(error);
    },
  };
  promise.catch(() => undefined); // a rejection nobody awaits is not fatal
  return d;
}

/** Lets the event loop turn `n` times (no timers). */
export async function turns(n = 1): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Polls `check` once per loop turn, at most `maxTurns` times / `ms` milliseconds. */
export async function until(check: () => boolean, what: string, ms = 3000, maxTurns = 200000): Promise<void> {
  const start = Date.now();
  for (let i = 0; i < maxTurns; i++) {
    if (check()) return;
    if (Date.now() - start > ms) break;
    await turns(1);
  }
  if (!check()) throw new Error(`condition not met: ${what}`);
}

/** Waits (bounded) for the process's descriptor count to come back to `baseline`; fails if it does not. */
export async function fdsBackTo(baseline: number, what: string): Promise<void> {
  try {
    await until(() => fdCount() <= baseline, what, 5000);
  } catch {
    const now = fdCount();
    if (now > baseline) throw new Error(`${what}: ${now} descriptors open, baseline ${baseline}`);
  }
}

/** A server's address as a client connects to it: [host, port] or a Unix path. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function targetOf(server: any): [string, number] | string {
  const a = server.serverAddress;
  return typeof a === 'string' ? a : [a[0], a[1]];
}

/** A temp dir for Unix socket paths; call cleanup() in after(). */
export class TempDir {
  #dir: string | null = null;
  private n = 0;
  /** Made on first use, so that a suite skipped or filtered out leaves nothing behind. */
  constructor(private readonly prefix = 'ss-') {}
  get dir(): string {
    this.#dir ??= fs.mkdtempSync(path.join(os.tmpdir(), this.prefix));
    return this.#dir;
  }
  /** A fresh, unused path in the dir. */
  path(name = 'sock'): string {
    return path.join(this.dir, `${name}.${++this.n}`);
  }
  cleanup(): void {
    if (this.#dir !== null) fs.rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = null;
  }
}

let abstractSeq = 0;
/** A fresh Linux abstract socket name ('\0…'). */
export function abstractName(tag = 'ss'): string {
  return `\0socketserver-test-${tag}-${process.pid}-${++abstractSeq}`;
}

/** Replaces process.stderr.write while `fn` runs; returns what was written. */
export async function captureStderr(fn: () => Promise<void>): Promise<string> {
  const original = process.stderr.write;
  let out = '';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  (process.stderr as any).write = (chunk: unknown, ...rest: unknown[]): boolean => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString();
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    if (cb) cb();
    return true;
  };
  try {
    await fn();
  } finally {
    process.stderr.write = original;
  }
  return out;
}

// ---------------------------------------------------------------- stream clients

export type ConnectTarget = Address;

/** Connects with node:net to [host, port] or a Unix path. */
export function connect(target: ConnectTarget, timeoutMs = 5000): Promise<net.Socket> {
  return withTimeout(
    new Promise<net.Socket>((resolve, reject) => {
      const sock =
        typeof target === 'string' ? net.connect({ path: target }) : net.connect({ host: target[0], port: target[1] });
      const onError = (e: Error): void => reject(e);
      sock.once('error', onError);
      sock.once('connect', () => {
        sock.off('error', onError);
        sock.on('error', () => undefined); // reported through reads
        resolve(sock);
      });
    }),
    timeoutMs,
    `connect to ${JSON.stringify(target)}`,
  );
}

/** Collects everything a socket receives until EOF ('end') or close. */
export function readToEnd(sock: net.Socket, timeoutMs = 5000): Promise<Buffer> {
  return withTimeout(
    new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      sock.on('data', (c: Buffer) => chunks.push(c));
      sock.once('end', () => resolve(Buffer.concat(chunks)));
      sock.once('close', () => resolve(Buffer.concat(chunks)));
      sock.once('error', reject);
    }),
    timeoutMs,
    'read to EOF',
  );
}

/** A reader that buffers a socket's data and answers "n bytes" / "a line" requests. */
export class SockReader {
  private buf = Buffer.alloc(0);
  private ended = false;
  private error: Error | null = null;
  private waiters: Array<() => void> = [];
  constructor(readonly sock: net.Socket) {
    sock.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      this.wake();
    });
    sock.on('end', () => {
      this.ended = true;
      this.wake();
    });
    sock.on('close', () => {
      this.ended = true;
      this.wake();
    });
    sock.on('error', (e: Error) => {
      this.error = e;
      this.wake();
    });
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  private async waitFor(ready: () => boolean, ms: number, what: string): Promise<void> {
    const start = Date.now();
    while (!ready()) {
      if (this.error) throw this.error;
      if (this.ended) return;
      const left = ms - (Date.now() - start);
      if (left <= 0) throw new Error(`timed out: ${what}`);
      await withTimeout(new Promise<void>((r) => this.waiters.push(r)), left, what);
    }
  }
  get buffered(): number {
    return this.buf.length;
  }
  async readLine(ms = 5000): Promise<Buffer> {
    await this.waitFor(() => this.buf.includes(0x0a), ms, 'read a line');
    const i = this.buf.indexOf(0x0a);
    const n = i < 0 ? this.buf.length : i + 1;
    const line = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return line;
  }
  async readExactly(n: number, ms = 5000): Promise<Buffer> {
    await this.waitFor(() => this.buf.length >= n, ms, `read ${n} bytes`);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.length);
    return out;
  }
  /** Waits until at least n bytes are buffered (without consuming). */
  async waitBuffered(n: number, ms = 5000): Promise<void> {
    await this.waitFor(() => this.buf.length >= n, ms, `buffer ${n} bytes`);
  }
  async readToEnd(ms = 5000): Promise<Buffer> {
    await this.waitFor(() => false, ms, 'read to EOF');
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }
}

/** Connect, send `data` (optionally half-close), read everything to EOF. */
export async function streamExchange(target: ConnectTarget, data: Buffer | string, halfClose = false): Promise<Buffer> {
  const sock = await connect(target);
  try {
    const done = readToEnd(sock);
    sock.write(data);
    if (halfClose) sock.end();
    return await done;
  } finally {
    sock.destroy();
  }
}

/** Waits for a socket's 'close' event (bounded). */
export function closed(sock: net.Socket, ms = 5000): Promise<void> {
  if (sock.destroyed && sock.closed) return Promise.resolve();
  return withTimeout(new Promise<void>((r) => sock.once('close', () => r())), ms, 'socket close');
}

// ---------------------------------------------------------------- UDP client

export class UdpClient {
  readonly sock: dgram.Socket;
  private queue: Array<[Buffer, dgram.RemoteInfo]> = [];
  private waiters: Array<() => void> = [];
  private constructor(type: 'udp4' | 'udp6') {
    this.sock = dgram.createSocket(type);
    this.sock.on('message', (msg, rinfo) => {
      this.queue.push([msg, rinfo]);
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
    this.sock.on('error', () => undefined);
  }
  static async open(type: 'udp4' | 'udp6' = 'udp4', host = HOST): Promise<UdpClient> {
    const c = new UdpClient(type);
    await new Promise<void>((resolve, reject) => {
      c.sock.once('error', reject);
      c.sock.bind(0, host, () => {
        c.sock.off('error', reject);
        resolve();
      });
    });
    return c;
  }
  address(): [string, number] {
    const a = this.sock.address();
    return [a.address, a.port];
  }
  send(data: Buffer | string, to: [string, number] | [string, number, number, number]): Promise<void> {
    return new Promise((resolve, reject) =>
      this.sock.send(typeof data === 'string' ? Buffer.from(data) : data, to[1], to[0], (e) => (e ? reject(e) : resolve())),
    );
  }
  async recv(ms = 5000): Promise<[Buffer, dgram.RemoteInfo]> {
    const start = Date.now();
    while (this.queue.length === 0) {
      const left = ms - (Date.now() - start);
      if (left <= 0) throw new Error('timed out waiting for a UDP datagram');
      await withTimeout(new Promise<void>((r) => this.waiters.push(r)), left, 'UDP datagram');
    }
    return this.queue.shift()!;
  }
  close(): void {
    try {
      this.sock.close();
    } catch {
      /* already closed */
    }
  }
}

export async function udpExchange(to: [string, number], data: Buffer | string, ms = 5000): Promise<Buffer> {
  const c = await UdpClient.open();
  try {
    await c.send(data, to);
    return (await c.recv(ms))[0];
  } finally {
    c.close();
  }
}

// ---------------------------------------------------------------- Unix datagram client (raw addon)

/** A Unix datagram socket made with the addon (Node has no such API). */
export class UnixDgramClient {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private readonly s: any;
  private pending: ((kind: number, errno: number) => void) | null = null;
  private closedFlag = false;
  constructor(readonly path: string) {
    const native = nativeAddon();
    const onEvent = (kind: number, errno: number): void => {
      const p = this.pending;
      this.pending = null;
      if (p) p(kind, errno);
    };
    this.s = new native.Listener(native.constants.AF_UNIX, native.constants.SOCK_DGRAM);
    this.onEvent = onEvent;
    try {
      this.s.bind(path);
    } catch (e) {
      this.s.close();
      throw e;
    }
  }
  private readonly onEvent: (kind: number, errno: number) => void;
  fileno(): number {
    return this.s.fileno();
  }
  /** Sends one datagram; throws when the kernel would block. */
  sendTo(data: Buffer | string, to: string): number {
    const n = this.s.sendTo(typeof data === 'string' ? Buffer.from(data) : data, to);
    if (n === null) throw new Error('sendTo would block');
    return n;
  }
  /** Receives one datagram: [payload, sender]. */
  async recv(ms = 5000): Promise<[Buffer, string]> {
    const start = Date.now();
    for (let i = 0; i < 100; i++) {
      if (this.s.readyNow()) {
        const [data, addr] = this.s.take();
        return [data, addr];
      }
      const left = (ms - (Date.now() - start)) / 1000;
      if (left <= 0) break;
      const ev = new Promise<[number, number]>((resolve) => {
        this.pending = (kind, errno) => resolve([kind, errno]);
      });
      this.s.arm(left, this.onEvent);
      const [kind, errno] = await ev;
      if (kind === 2) break;
      if (kind === 4) throw new Error(`Unix datagram receive failed, errno ${errno}`);
    }
    throw new Error(`timed out waiting for a Unix datagram on ${JSON.stringify(this.path)}`);
  }
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.s.close();
  }
}

export async function unixDgramExchange(tmp: TempDir, to: string, data: Buffer | string): Promise<[Buffer, string]> {
  const c = new UnixDgramClient(tmp.path('client'));
  try {
    c.sendTo(data, to);
    return await c.recv();
  } finally {
    c.close();
  }
}

// ---------------------------------------------------------------- python3 client (abstract stream names)

let pythonOk: boolean | undefined;
export function havePython(): boolean {
  if (pythonOk === undefined) {
    try {
      childProcess.execFileSync('python3', ['-c', 'import socket'], { stdio: 'ignore', timeout: 10000 });
      pythonOk = true;
    } catch {
      pythonOk = false;
    }
  }
  return pythonOk;
}

/**
 * Connects to a Unix stream address (exact bytes, abstract names included)
 * with python3, sends `data`, half-closes, and returns all it receives.
 */
export function pythonUnixStreamExchange(address: string, data: Buffer | string, ms = 10000): Promise<Buffer> {
  const script = [
    'import socket, sys',
    'addr = bytes.fromhex(sys.argv[1])',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
    's.settimeout(8)',
    's.connect(addr)',
    's.sendall(bytes.fromhex(sys.argv[2]))',
    's.shutdown(socket.SHUT_WR)',
    'out = b""',
    'while True:',
    '    b = s.recv(65536)',
    '    if not b: break',
    '    out += b',
    'sys.stdout.write(out.hex())',
  ].join('\n');
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  return new Promise((resolve, reject) => {
    childProcess.execFile(
      'python3',
      ['-c', script, Buffer.from(address).toString('hex'), payload.toString('hex')],
      { timeout: ms },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`python client failed: ${err.message} ${stderr}`));
        else resolve(Buffer.from(stdout.trim(), 'hex'));
      },
    );
  });
}

// ---------------------------------------------------------------- servers

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyServer = any;

/** Runs serveForever in the background; stop() shuts it down and awaits it. */
export function serveInBackground(server: AnyServer, pollInterval = 0.01): { done: Promise<void>; stop: () => Promise<void> } {
  const done: Promise<void> = server.serveForever(pollInterval);
  done.catch(() => undefined);
  return {
    done,
    async stop() {
      await withTimeout(server.shutdown(), 5000, 'shutdown()');
      await withTimeout(done, 5000, 'serveForever() to resolve');
    },
  };
}

/** Closes servers, ignoring errors (for finally/afterEach). */
export async function closeAll(...servers: AnyServer[]): Promise<void> {
  for (const s of servers) {
    if (!s) continue;
    try {
      await withTimeout(Promise.resolve(s.serverClose()), 5000, 'serverClose()');
    } catch {
      /* cleanup */
    }
  }
}

/** True when the loopback IPv6 address ::1 can be bound here. */
export function haveIPv6Loopback(): boolean {
  const native = nativeAddon();
  let s;
  try {
    s = new native.Listener(native.constants.AF_INET6, native.constants.SOCK_STREAM);
    s.bind(['::1', 0]);
    return true;
  } catch {
    return false;
  } finally {
    if (s) s.close();
  }
}

/** Sockets in TIME_WAIT with local port `port` (from /proc/net/tcp). */
export function timeWaitOnPort(port: number): number {
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4) continue;
      const local = f[1];
      const st = f[3];
      if (st === '06' && parseInt(local.split(':')[1], 16) === port) n++;
    }
  }
  return n;
}

// ---------------------------------------------------------------- real tools

/**
 * Skips the suite (`ctx.skip()`) when `command` cannot run here (`args`:
 * a harmless call, such as --version), unless SOCKETSERVER_REQUIRE_TOOLS
 * is set (CI installs the tools): then its absence fails.
 */
export function requireTool(ctx: Mocha.Context, command: string, args: string[] = ['--version']): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const ran = spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 });
  if (ran.error === undefined && ran.status === 0) return;
  if (process.env.SOCKETSERVER_REQUIRE_TOOLS) {
    throw new Error(`${command} is needed here (SOCKETSERVER_REQUIRE_TOOLS is set) but cannot run: ${ran.error?.message ?? `exit ${ran.status}`}`);
  }
  ctx.skip();
}
