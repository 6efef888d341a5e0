/**
 * Loads the C++ addon, lazily: `socketserver/js` works where it cannot load.
 * `SOCKETSERVER_NATIVE` may name another build of it (the cmake-js or
 * sanitizer builds); otherwise node-gyp's `build/Release` is used.
 */
import * as path from 'node:path';

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
}

export interface NativeListener {
  fileno(): number;
  bind(address: Address): void;
  listen(backlog: number): void;
  setSockOpt(level: number, name: number, value: SockOptValue): void;
  getSockOpt(level: number, name: number): number;
  getSockName(): Address;
  configure(batchLimit: number, maxPacketSize: number): void;
  readyNow(): boolean;
  take(): [NativeConnection, Address] | [Buffer, Address, boolean];
  arm(timeout: number | null, callback: (kind: number, errno: number) => void): void;
  wake(): void;
  sendTo(data: Uint8Array, address: Address): number | null;
  /** The next datagram; meta gets [port, truncated, flowinfo, scopeId]; out.host is set when the sender's host changed. */
  takeDatagram(meta: Uint32Array, out: { host: string }, pool?: Uint8Array, offset?: number): Buffer | number;
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

export interface NativeAddon {
  Listener: new (family: number, type: number) => NativeListener;
  ChildWatch: new (pid: number, onExit: () => void) => NativeChildWatch;
  constants: Record<string, number>;
  makeSystemError(errno: number, syscall: string): Error;
  forkRequest(keepFds: number[], watchdogSeconds: number | null): number;
  exitChild(status: number): never;
  reapChild(pid: number, blocking: boolean): [code: number | null, signal: number | null] | null;
  forkStats(): { parkUs: number; sweepUs: number; forkUs: number; parkAttempts: number };
  isForkedChild(): boolean;
  getpid(): number;
}

let addon: NativeAddon | undefined;

export function addonPath(): string {
  return process.env.SOCKETSERVER_NATIVE
    ? path.resolve(process.env.SOCKETSERVER_NATIVE)
    : path.join(__dirname, '..', 'build', 'Release', 'socketserver.node');
}

export function loadAddon(): NativeAddon {
  if (addon === undefined) {
    const file = addonPath();
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      addon = require(file) as NativeAddon;
    } catch (cause) {
      throw Object.assign(
        new Error(
          `socketserver: the native addon could not be loaded from ${file} ` +
            `(${(cause as Error).message.split('\n')[0]}). Rebuild it with \`npm rebuild socketserver\`, ` +
            `or use the pure-JavaScript transport: import ... from 'socketserver/js'.`,
          { cause },
        ),
        { code: 'ERR_SOCKETSERVER_NATIVE' },
      );
    }
  }
  return addon;
}
