/**
 * Loads the C++ addon, lazily: `socketserver/js` works where it cannot load.
 *
 * Which file: `SOCKETSERVER_NATIVE` when set (the cmake-js or sanitizer
 * builds); else what node-gyp-build picks in the package, the way prebuilt
 * addons are commonly found: a build from source in `build/Release` first,
 * then the prebuilt binary in `prebuilds/linux-x64/` whose ABI tag is the
 * running Node's (`socketserver.abi137.glibc.node` for Node 24). The addon
 * uses Node's C++ API (fork.cc), so a binary serves exactly one ABI.
 */
import * as path from 'node:path';

import type { ProxyInfo } from './proxy-protocol.js';
import type { Address, SockOptValue } from './transport.js';

export interface NativeConnection {
  fileno(): number;
  recv(n: number): Buffer | null;
  /** recv() into target[offset, offset + length): the count (0 at EOF), or null when it would block. */
  recvInto(target: Uint8Array, offset: number, length: number): number | null;
  send(data: Uint8Array, offset: number): number | null;
  poll(events: number, callback: (status: number, events: number) => void): void;
  cancelPoll(events?: number): void;
  shutdown(how: number): void;
  close(): void;
  getPeerName(): Address;
  getSockName(): Address;
  setSockOpt(level: number, name: number, value: SockOptValue): void;
  getSockOpt(level: number, name: number): number;
  /** Gives up the descriptor without closing it (handed to a worker thread): returns it. */
  release(): number;
  /** One step of the PROXY protocol header (mode 0 v1, 1 v2, 2 any): null when more must arrive. */
  proxyStep(mode: number): [ProxyInfo, Buffer] | null;
}

export interface NativeListener {
  fileno(): number;
  bind(address: Address): void;
  listen(backlog: number): void;
  setSockOpt(level: number, name: number, value: SockOptValue): void;
  getSockOpt(level: number, name: number): number;
  getSockName(): Address;
  configure(batchLimit: number, maxPacketSize: number, maxQueuedDatagrams: number, maxQueuedBytes: number): void;
  readyNow(): boolean;
  take(): [NativeConnection, Address] | [Buffer, Address, boolean];
  arm(timeout: number | null, callback: (kind: number, errno: number) => void): void;
  wake(): void;
  sendTo(data: Uint8Array, address: Address): number | null;
  /** The next datagram; meta gets [port, truncated, flowinfo, scopeId]; out.host is set when the sender's host changed. */
  takeDatagram(meta: Uint32Array, out: { host: string }, pool?: Uint8Array, offset?: number): Buffer | number;
  /** Datagrams read and dropped because the queue was at its bounds (configure()). */
  droppedDatagrams(): number;
  /** A new descriptor of this socket (close-on-exec), owned by the caller. */
  dup(): number;
  /** Requests taken from the kernel into the queue and not yet by take(). */
  queued(): number;
  /** sendTo() the host of the last datagram taken (out.host), at this port. */
  sendToLast(data: Uint8Array, port?: number, flowinfo?: number, scopeId?: number): number | null;
  poll(events: number, callback: (status: number, events: number) => void): void;
  cancelPoll(events?: number): void;
  close(): void;
}

export interface NativeChildWatch {
  close(): void;
  ref(): void;
  unref(): void;
}

/** The event numbers the addon reports, read from it (native/addon.cc), never typed in again. */
export interface NativeConstants {
  /** libuv poll events, for poll() and cancelPoll(). */
  POLLIN: number;
  POLLOUT: number;
  /** What a serve-thread wait (arm()) ended with. */
  EV_READY: number;
  EV_TIMEOUT: number;
  EV_WOKEN: number;
  EV_ERROR: number;
}

export interface NativeAddon {
  /** A new socket; with `fd`, that socket of this family and type adopted (closed with the Listener). */
  Listener: new (family: number, type: number, fd?: number) => NativeListener;
  /** The class of take()'s connections: made by the addon, not from JavaScript. */
  Connection: { prototype: NativeConnection };
  ChildWatch: new (pid: number, onExit: () => void) => NativeChildWatch;
  constants: NativeConstants & Record<string, number>;
  makeSystemError(errno: number, syscall: string): Error;
  forkRequest(keepFds: number[], watchdogSeconds: number | null): number;
  exitChild(status: number): never;
  reapChild(pid: number, blocking: boolean): [code: number | null, signal: number | null] | null;
  forkStats(): { parkUs: number; sweepUs: number; forkUs: number; parkAttempts: number };
  isForkedChild(): boolean;
  getpid(): number;
  /** A Connection that owns `fd`, a stream socket another thread of this process released. */
  /** A descriptor's socket family, type, and whether it listens (activation.cc); a system error for a non-socket. */
  socketKind(fd: number): { family: number; type: number; listening: boolean };
  /** Sets FD_CLOEXEC on the descriptor. */
  setCloexec(fd: number): void;
  adoptConnection(fd: number): NativeConnection;
  /** A datagram's PROXY v2 header: [header, its size]; throws ERR_SOCKETSERVER_PROXY_PROTOCOL. */
  proxyDatagram(data: Uint8Array): [ProxyInfo, number];
}

let addon: NativeAddon | undefined;

/** The package root: the folder holding package.json, binding.gyp and prebuilds/. */
const PACKAGE_ROOT = path.join(__dirname, '..');

/** The addon file to load; throws node-gyp-build's error when none fits this Node. */
export function addonPath(): string {
  if (process.env.SOCKETSERVER_NATIVE) return path.resolve(process.env.SOCKETSERVER_NATIVE);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  return nodeGypBuild.resolve(PACKAGE_ROOT);
}

export function loadAddon(): NativeAddon {
  if (addon === undefined) {
    let file: string;
    try {
      file = addonPath();
    } catch (cause) {
      throw nativeError(
        `socketserver: no native addon for Node ${process.version} (ABI ${process.versions.modules}, ` +
          `${process.platform}-${process.arch}): the package has no prebuilt binary for it, and none was built ` +
          `from source (that needs python3, make and g++; \`npm rebuild socketserver\` builds it and shows why not).`,
        cause,
      );
    }
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      addon = require(file) as NativeAddon;
    } catch (cause) {
      throw nativeError(
        `socketserver: the native addon could not be loaded from ${file} ` +
          `(${(cause as Error).message.split('\n')[0]}). Rebuild it with \`npm rebuild socketserver\`.`,
        cause,
      );
    }
  }
  return addon;
}

/** The one shape of "no addon here": it names the way out, the pure-JavaScript transport. */
function nativeError(message: string, cause: unknown): Error {
  return Object.assign(
    new Error(`${message} Or use the pure-JavaScript transport: import ... from 'socketserver/js'.`, { cause }),
    { code: 'ERR_SOCKETSERVER_NATIVE' },
  );
}
