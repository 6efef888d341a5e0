/**
 * Shared pieces of the ForkingMixIn tests (API.md "Mix-ins", DESIGN.md
 * "Fork"), one file per feature: 41-forking-settings, 42-forking-unavailable,
 * 43-forking-child, 44-forking-parent and 45-forking-steps.
 *
 * A forked child is a copy of this whole test process, pending callbacks
 * and timers included. So the clients run in python3 processes
 * (proc-helpers' RemoteClient), and what must be observed of a child is
 * observed from outside: its replies, its exit status, /proc, files.
 * CPython's own Forking cases are in 10-socketserver (test_Forking*) and
 * 11-error-handler (test_forking_handled).
 */
import { expect } from 'chai';

import { Address, Caps, SS, withTimeout } from './helpers';
import { realPid, RemoteClient } from './proc-helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyServer = any;
export type Exit = [pid: number, code: number | null, signal: number | null];

export const SIGALRM = 14;

/** A handler's working time: a timer inside the handler, not a synchronisation. */
export function work(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface Info {
  line: string;
  pid: number;
  real: number;
  ppid: number;
  [k: string]: unknown;
}

/** The server class with its children's exits recorded. */
export function tracked<T extends SS['TCPServer']>(Base: T) {
  const B = Base as unknown as new (...args: unknown[]) => AnyServer;
  return class Tracked extends B {
    exits: Exit[] = [];
    #waiters: Array<() => void> = [];
    childExited(pid: number, code: number | null, signal: number | null): void {
      this.exits.push([pid, code, signal]);
      const w = this.#waiters;
      this.#waiters = [];
      for (const f of w) f();
    }
    /** Resolves once `n` children have been reported (bounded). */
    async waitExits(n: number, ms = 10000): Promise<void> {
      const start = Date.now();
      while (this.exits.length < n) {
        const left = ms - (Date.now() - start);
        if (left <= 0) throw new Error(`only ${this.exits.length} of ${n} children reported`);
        await withTimeout(new Promise<void>((r) => this.#waiters.push(r)), left, `${n} childExited() calls`);
      }
    }
  };
}

export async function info(c: RemoteClient, addr: Address, line = 'pid'): Promise<Info> {
  return JSON.parse(await c.exchange(addr, `${line}\n`, true)) as Info;
}

/** Starts a held request: the child answers 'pid' and then waits for more. */
export async function holdOne(server: AnyServer, c: RemoteClient, id: number): Promise<number> {
  await c.connect(id, server.serverAddress);
  await c.send(id, 'pid\n');
  await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
  const r = JSON.parse(await c.readline(id)) as Info;
  return r.pid;
}

export async function release(c: RemoteClient, id: number): Promise<void> {
  await c.send(id, 'bye\n');
  expect(await c.readline(id)).to.equal('bye\n');
  expect(await c.readall(id)).to.equal('');
  await c.closeConn(id);
}

/** What the fork tests of one transport need of it. */
export function forkKit(ss: SS, caps: Caps) {
  // API.md: a transport that cannot fork refuses ForkingMixIn at construction;
  // "where fork() is not available" holds it to that, the rest needs fork().
  const canFork = caps.fork;
  function needsFork(this: Mocha.Context): void {
    if (!canFork) this.skip();
  }

  /**
   * A session handler: answers each line with a JSON line telling who
   * answered (process.pid, the real pid from procfs, the parent pid) plus
   * `extra()`, until 'bye' or EOF. A client that sends nothing more keeps
   * its child alive.
   */
  function sessionHandler(extra: (line: string, h: AnyServer) => Record<string, unknown> = () => ({})) {
    return class Session extends ss.StreamRequestHandler {
      override async handle(): Promise<void> {
        for (let i = 0; i < 100; i++) {
          const raw = (await this.rfile.readline()).toString();
          if (raw === '') return;
          const line = raw.trim();
          if (line === 'bye') {
            await this.wfile.write('bye\n');
            return;
          }
          const info = { line, pid: process.pid, real: realPid(), ppid: process.ppid, ...extra(line, this) };
          await this.wfile.write(`${JSON.stringify(info)}\n`);
        }
      }
    };
  }

  const ForkingTCP = tracked(ss.ForkingTCPServer as unknown as typeof ss.TCPServer);

  return { canFork, needsFork, sessionHandler, ForkingTCP };
}
