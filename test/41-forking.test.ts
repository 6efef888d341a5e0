/**
 * ForkingMixIn (API.md "Mix-ins", DESIGN.md "Fork"): each request in a
 * child made by fork(); maxChildren, blockOnClose, childTimeout,
 * activeChildren, collectChildren(), childExited(); and the fork steps of
 * DESIGN.md that can be observed from outside.
 *
 * A forked child is a copy of this whole test process, pending callbacks
 * and timers included. So the clients run in python3 processes
 * (proc-helpers' RemoteClient), and what must be observed of a child is
 * observed from outside: its replies, its exit status, /proc, files.
 * CPython's own Forking cases are in 10-socketserver (test_Forking*) and
 * 11-error-handler (test_forking_handled).
 */
import { expect } from 'chai';
import * as childProcess from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import {
  Address,
  connect,
  deferred,
  fdCount,
  HOST,
  readToEnd,
  ROOT,
  serveInBackground,
  SockReader,
  TempDir,
  transports,
  turns,
  until,
  withTimeout,
} from './helpers';
import { childrenOf, exitOf, killAndWait, procStat, realPid, RemoteClient, withClient } from './proc-helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyServer = any;
type Exit = [pid: number, code: number | null, signal: number | null];

const SIGALRM = 14;

/** A handler's working time: a timer inside the handler, not a synchronisation. */
function work(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface Info {
  line: string;
  pid: number;
  real: number;
  ppid: number;
  [k: string]: unknown;
}

for (const { name, ss, caps, cjs: distFile } of transports) {
  describe(`ForkingMixIn (${name})`, function () {
    this.timeout(30000);
    const tmp = new TempDir('ss-fork-');
    after(() => tmp.cleanup());
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

    /** The server class with its children's exits recorded. */
    function tracked<T extends typeof ss.TCPServer>(Base: T) {
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

    const ForkingTCP = tracked(ss.ForkingTCPServer as unknown as typeof ss.TCPServer);

    async function info(c: RemoteClient, addr: Address, line = 'pid'): Promise<Info> {
      return JSON.parse(await c.exchange(addr, `${line}\n`, true)) as Info;
    }

    /** Starts a held request: the child answers 'pid' and then waits for more. */
    async function holdOne(server: AnyServer, c: RemoteClient, id: number): Promise<number> {
      await c.connect(id, server.serverAddress);
      await c.send(id, 'pid\n');
      await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
      const r = JSON.parse(await c.readline(id)) as Info;
      return r.pid;
    }

    async function release(c: RemoteClient, id: number): Promise<void> {
      await c.send(id, 'bye\n');
      expect(await c.readline(id)).to.equal('bye\n');
      expect(await c.readall(id)).to.equal('');
      await c.closeConn(id);
    }

    describe('settings', () => {
      before(needsFork);

      it('timeout 300, maxChildren 40, blockOnClose true, childTimeout 300; activeChildren null before a fork', async () => {
        const C = ss.ForkingTCPServer as unknown as Record<string, unknown>;
        expect([C.timeout, C.maxChildren, C.blockOnClose, C.childTimeout]).to.deep.equal([300, 40, true, 300]);
        // Python's class attribute: ForkingTCPServer.active_children is None.
        expect(C.activeChildren, 'the class default of activeChildren').to.equal(null);
        expect(ss.ForkingMixIn(ss.UDPServer).activeChildren).to.equal(null);
        const server: AnyServer = new ss.ForkingUnixStreamServer(tmp.path('settings'), ss.StreamRequestHandler);
        const other: AnyServer = new ss.ForkingUDPServer([HOST, 0], ss.DatagramRequestHandler, {
          maxChildren: 3,
          blockOnClose: false,
          childTimeout: null,
          timeout: 1,
        });
        try {
          expect([server.timeout, server.maxChildren, server.blockOnClose, server.childTimeout]).to.deep.equal([300, 40, true, 300]);
          expect(server.activeChildren).to.equal(null);
          expect([other.timeout, other.maxChildren, other.blockOnClose, other.childTimeout]).to.deep.equal([1, 3, false, null]);
          expect(C.maxChildren, 'the static is untouched').to.equal(40);
          // collectChildren() before any fork does nothing.
          await withTimeout(server.collectChildren({ blocking: true }), 5000, 'collectChildren()');
        } finally {
          await server.serverClose();
          await other.serverClose();
        }
      });
    });

    describe('where fork() is not available', () => {
      it('ForkingMixIn in a worker thread: ERR_SOCKETSERVER_UNSUPPORTED at construction, nothing leaked', async () => {
        const unixPath = tmp.path('worker');
        const code = `
          const { workerData, parentPort } = require('node:worker_threads');
          const fs = require('node:fs');
          const ss = require(workerData.dist);
          const count = () => fs.readdirSync('/proc/self/fd').length;
          // A server first, so what loading the addon opens for good is not counted.
          const warm = new ss.ThreadingTCPServer(['127.0.0.1', 0], ss.StreamRequestHandler);
          Promise.resolve(warm.serverClose()).then(() => {
            class Mine extends ss.ForkingMixIn(ss.UnixDatagramServer) {}
            const cases = [
              ['ForkingTCPServer', ss.ForkingTCPServer, ['127.0.0.1', 0]],
              ['ForkingUDPServer', ss.ForkingUDPServer, ['127.0.0.1', 0]],
              ['ForkingUnixStreamServer', ss.ForkingUnixStreamServer, workerData.unixPath],
              ['ForkingUnixDatagramServer', ss.ForkingUnixDatagramServer, workerData.unixPath],
              ['ForkingMixIn(UnixDatagramServer)', Mine, workerData.unixPath],
            ];
            const results = [];
            for (const [name, Cls, addr] of cases) {
              for (let i = 0; i < 50; i++) {
                const before = count();
                let code = null;
                try {
                  new Cls(addr, ss.BaseRequestHandler);
                } catch (e) {
                  code = e.code;
                }
                const after = count();
                if (i === 0 || code !== 'ERR_SOCKETSERVER_UNSUPPORTED' || after !== before) {
                  results.push({ name, i, code, before, after, pathExists: fs.existsSync(workerData.unixPath) });
                }
              }
            }
            parentPort.postMessage(results);
          });
        `;
        // The main thread has loaded the addon already: a worker's descriptors all go with it.
        const before = fdCount();
        const worker = new Worker(code, { eval: true, workerData: { dist: distFile, unixPath } });
        const exited = withTimeout(
          new Promise<number>((resolve) => worker.once('exit', resolve)),
          20000,
          'worker exit',
        );
        try {
          const results = await withTimeout(
            new Promise<Array<Record<string, unknown>>>((resolve, reject) => {
              worker.once('message', resolve);
              worker.once('error', reject);
            }),
            20000,
            'worker results',
          );
          // One line per class (the first of 50 attempts), nothing else.
          expect(results.map((r) => r.name)).to.deep.equal([
            'ForkingTCPServer',
            'ForkingUDPServer',
            'ForkingUnixStreamServer',
            'ForkingUnixDatagramServer',
            'ForkingMixIn(UnixDatagramServer)',
          ]);
          for (const r of results) {
            expect(r.code, String(r.name)).to.equal('ERR_SOCKETSERVER_UNSUPPORTED');
            expect(r.after, `${String(r.name)}: descriptors`).to.equal(r.before);
            expect(r.pathExists, `${String(r.name)}: no socket file made`).to.equal(false);
          }
          expect(await exited).to.equal(0);
        } finally {
          await worker.terminate();
        }
        expect(fdCount(), 'descriptors of the process once the worker is gone').to.equal(before);
      });

      it('this transport: the Forking classes are constructed (native) or refused with ERR_SOCKETSERVER_UNSUPPORTED, nothing leaked', async () => {
        const before = fdCount();
        const cases: Array<[string, Address]> = [
          ['ForkingTCPServer', [HOST, 0]],
          ['ForkingUDPServer', [HOST, 0]],
          ['ForkingUnixStreamServer', tmp.path('this-transport')],
          ['ForkingUnixDatagramServer', tmp.path('this-transport')],
        ];
        for (const [cls, addr] of cases) {
          const Cls = (ss as unknown as Record<string, new (...a: unknown[]) => AnyServer>)[cls];
          if (canFork) {
            const server = new Cls(addr, ss.BaseRequestHandler);
            expect(server.activeChildren, cls).to.equal(null);
            await server.serverClose();
          } else {
            expect(() => new Cls(addr, ss.BaseRequestHandler), cls).to.throw().with.property('code', 'ERR_SOCKETSERVER_UNSUPPORTED');
          }
        }
        expect(fdCount()).to.equal(before);
      });

      it('ForkingMixIn on a transport that cannot fork: ERR_SOCKETSERVER_UNSUPPORTED, no socket made', () => {
        const native = (ss.TCPServer as unknown as { transport: Record<string, unknown> }).transport;
        let created = 0;
        const noFork = {
          ...native,
          name: 'no-fork',
          processes: undefined,
          createListener(...args: unknown[]) {
            created++;
            return (native.createListener as (...a: unknown[]) => unknown)(...args);
          },
        };
        const before = fdCount();
        for (let i = 0; i < 100; i++) {
          let error: { code?: string } | undefined;
          try {
            new ss.ForkingTCPServer([HOST, 0], ss.StreamRequestHandler, { transport: noFork } as never);
          } catch (e) {
            error = e as { code?: string };
          }
          expect(error?.code).to.equal('ERR_SOCKETSERVER_UNSUPPORTED');
        }
        expect(created).to.equal(0);
        expect(fdCount()).to.equal(before);
        // The same transport still serves a server without ForkingMixIn.
        const plain = new ss.TCPServer([HOST, 0], ss.StreamRequestHandler, { transport: noFork } as never);
        void plain.serverClose();
        expect(created).to.equal(1);
      });
    });

    describe('the child', () => {
      before(needsFork);

      it('the handler runs in another process: process.pid is the real pid of the child childExited() reports', async () => {
        const server: AnyServer = new ForkingTCP([HOST, 0], sessionHandler());
        const replies: Info[] = [];
        try {
          const loop = serveInBackground(server);
          try {
            await withClient(async (c) => {
              for (let i = 0; i < 4; i++) replies.push(await info(c, server.serverAddress));
            });
          } finally {
            await loop.stop();
          }
        } finally {
          await server.serverClose();
        }
        await server.waitExits(4);
        const pids = replies.map((r) => r.pid);
        expect(new Set(pids).size, 'a new child per request').to.equal(4);
        for (const r of replies) {
          expect(r.pid).to.not.equal(process.pid);
          expect(r.pid, 'process.pid is corrected in the child').to.equal(r.real);
          expect(r.ppid, "the child's parent is the server's process").to.equal(process.pid);
        }
        expect(server.exits.map((e: Exit) => e[0]).sort()).to.deep.equal([...pids].sort());
        for (const e of server.exits as Exit[]) expect(e.slice(1), `child ${e[0]}`).to.deep.equal([0, null]);
        expect(process.pid, "the parent's process.pid is untouched").to.equal(realPid());
      });

      it('state mutated in a child does not reach the parent', async () => {
        let moduleCounter = 0;
        const seen = new Map<string, number>();
        const server: AnyServer = new ForkingTCP(
          [HOST, 0],
          sessionHandler((line, h) => {
            moduleCounter += 1;
            h.server.instanceCounter = (h.server.instanceCounter ?? 0) + 1;
            seen.set(line, (seen.get(line) ?? 0) + 1);
            return { moduleCounter, instanceCounter: h.server.instanceCounter, seen: seen.size };
          }),
        );
        const replies: Info[] = [];
        try {
          const loop = serveInBackground(server);
          try {
            await withClient(async (c) => {
              for (let i = 0; i < 3; i++) replies.push(await info(c, server.serverAddress, `req${i}`));
            });
          } finally {
            await loop.stop();
          }
        } finally {
          await server.serverClose();
        }
        // Each child starts from the parent's state, which never changed.
        for (const r of replies) expect([r.moduleCounter, r.instanceCounter, r.seen]).to.deep.equal([1, 1, 1]);
        expect(moduleCounter).to.equal(0);
        expect(server.instanceCounter).to.equal(undefined);
        expect(seen.size).to.equal(0);
      });

      it('childTimeout kills a stuck child: childExited() reports SIGALRM (14)', async function () {
        const server: AnyServer = new ForkingTCP([HOST, 0], sessionHandler(), { childTimeout: 1 });
        try {
          await withClient(async (c) => {
            await c.connect(1, server.serverAddress);
            // The child waits for a line that never comes.
            await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
            const [pid] = [...server.activeChildren];
            const start = Date.now();
            await server.waitExits(1, 10000);
            expect(server.exits).to.deep.equal([[pid, null, SIGALRM]]);
            expect(Date.now() - start, 'killed after about childTimeout').to.be.lessThan(5000);
            expect(await c.readall(1), 'the client sees the connection closed').to.equal('');
            expect(server.activeChildren.size).to.equal(0);
          });
        } finally {
          await server.serverClose();
        }
      });

      it('exit status 0 after a handler that succeeds, 1 after handleError()', async () => {
        const handled: string[] = [];
        class H extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            const line = (await this.rfile.readline()).toString().trim();
            if (line === 'bad') throw new RangeError('bad');
            await this.wfile.write(`${line}\n`);
          }
        }
        const Base = tracked(ss.ForkingTCPServer as unknown as typeof ss.TCPServer);
        class S extends Base {
          handleError(): void {
            handled.push('in the child'); // never seen by the parent
          }
        }
        const server: AnyServer = new S([HOST, 0], H);
        try {
          const loop = serveInBackground(server);
          try {
            await withClient(async (c) => {
              expect(await c.exchange(server.serverAddress, 'good\n', true)).to.equal('good\n');
              await server.waitExits(1);
              expect(await c.exchange(server.serverAddress, 'bad\n', true)).to.equal('');
              await server.waitExits(2);
            });
          } finally {
            await loop.stop();
          }
        } finally {
          await server.serverClose();
        }
        expect(server.exits.map((e: Exit) => e.slice(1))).to.deep.equal([
          [0, null],
          [1, null],
        ]);
        expect(handled).to.deep.equal([]);
      });
    });

    describe('the parent', () => {
      before(needsFork);

      it('handleRequest() forks and returns; collectChildren({ blocking: true }) waits for all children', async () => {
        const server: AnyServer = new ForkingTCP([HOST, 0], sessionHandler());
        try {
          await withClient(async (c) => {
            const pids: number[] = [];
            for (let i = 0; i < 3; i++) pids.push(await holdOne(server, c, i));
            expect([...server.activeChildren].sort()).to.deep.equal([...pids].sort());
            let collected = false;
            const collecting = server.collectChildren({ blocking: true }).then(() => {
              collected = true;
            });
            await release(c, 0);
            await release(c, 1);
            await server.waitExits(2);
            await turns(20);
            expect(collected, 'still waiting for the third child').to.equal(false);
            expect([...server.activeChildren]).to.deep.equal([pids[2]]);
            await release(c, 2);
            await withTimeout(collecting, 10000, 'collectChildren({ blocking: true })');
            expect(server.activeChildren.size).to.equal(0);
            expect(server.exits.map((e: Exit) => e[0]).slice(0, 2).sort()).to.deep.equal(pids.slice(0, 2).sort());
            expect(server.exits.map((e: Exit) => e[0])[2]).to.equal(pids[2]);
          });
        } finally {
          await server.serverClose();
        }
      });

      it('maxChildren = 1 under handleRequest(): the next request is not forked before the child exits', async () => {
        const server: AnyServer = new ForkingTCP([HOST, 0], sessionHandler(), { maxChildren: 1 });
        try {
          await withClient(async (c) => {
            const first = await holdOne(server, c, 1);
            await c.connect(2, server.serverAddress);
            await c.send(2, 'pid\n');
            let handled = false;
            const second = server.handleRequest().then(() => {
              handled = true;
            });
            await turns(20);
            expect(handled, 'handleRequest() waits for a free slot').to.equal(false);
            expect([...server.activeChildren]).to.deep.equal([first]);
            await release(c, 1);
            await withTimeout(second, 10000, 'the second handleRequest()');
            const r = JSON.parse(await c.readline(2)) as Info;
            expect(r.pid).to.not.equal(first);
            expect([...server.activeChildren]).to.deep.equal([r.pid]);
            expect(server.exits.map((e: Exit) => e[0])).to.deep.equal([first]);
            await release(c, 2);
          });
        } finally {
          await server.serverClose();
        }
        expect(server.exits.map((e: Exit) => e[1])).to.deep.equal([0, 0]);
      });

      it('handleRequest() that times out calls handleTimeout(), which reaps (collectChildren)', async () => {
        const calls: string[] = [];
        const Base = tracked(ss.ForkingTCPServer as unknown as typeof ss.TCPServer);
        class S extends Base {
          static timeout = 0.05;
          handleTimeout(): Promise<void> {
            calls.push('handleTimeout');
            return super.handleTimeout();
          }
          collectChildren(options?: { blocking?: boolean }): Promise<void> {
            calls.push('collectChildren');
            return super.collectChildren(options);
          }
        }
        const server: AnyServer = new S([HOST, 0], sessionHandler());
        try {
          await withTimeout(server.handleRequest(), 5000, 'handleRequest() to time out');
          expect(calls).to.deep.equal(['handleTimeout', 'collectChildren']);
        } finally {
          await server.serverClose();
        }
      });

      it('serverClose() with blockOnClose true waits for the children', async () => {
        const server: AnyServer = new ForkingTCP([HOST, 0], sessionHandler());
        try {
          await withClient(async (c) => {
            const pid = await holdOne(server, c, 1);
            let closeDone = false;
            const closing = Promise.resolve(server.serverClose()).then(() => {
              closeDone = true;
            });
            await turns(20);
            expect(server.socket.fileno(), 'the listening socket is closed first').to.equal(-1);
            expect(closeDone, 'serverClose() is waiting for the child').to.equal(false);
            await release(c, 1);
            await withTimeout(closing, 10000, 'serverClose()');
            expect(server.activeChildren.size).to.equal(0);
            expect(server.exits).to.deep.equal([[pid, 0, null]]);
          });
        } finally {
          await server.serverClose();
        }
      });

      it('serverClose() with blockOnClose false returns while a child runs; the child is still reaped', async () => {
        const server: AnyServer = new ForkingTCP([HOST, 0], sessionHandler(), { blockOnClose: false });
        try {
          await withClient(async (c) => {
            const pid = await holdOne(server, c, 1);
            await withTimeout(Promise.resolve(server.serverClose()), 5000, 'serverClose()');
            expect(server.socket.fileno()).to.equal(-1);
            expect(server.activeChildren.has(pid)).to.equal(true);
            const st = procStat(pid);
            expect(st, 'the child is alive').to.not.equal(null);
            expect(st!.state).to.not.equal('Z');
            await release(c, 1);
            await withTimeout(server.collectChildren({ blocking: true }), 10000, 'collectChildren({ blocking: true })');
            await server.waitExits(1);
            expect(server.exits).to.deep.equal([[pid, 0, null]]);
            expect(server.activeChildren.size).to.equal(0);
          });
        } finally {
          await server.serverClose();
        }
      });

      it('maxChildren = 2: six slow requests, never more than 2 children alive (seen from outside and in activeChildren)', async () => {
        class Slow extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            await this.rfile.readline();
            await work(250);
            await this.wfile.write(`${process.pid}\n`);
          }
        }
        const Base = tracked(ss.ForkingTCPServer as unknown as typeof ss.TCPServer);
        class S extends Base {
          static maxChildren = 2;
          static requestQueueSize = 16;
          most = 0;
          async processRequest(request: unknown, address: unknown): Promise<void> {
            await super.processRequest(request, address);
            // Only the parent gets here.
            this.most = Math.max(this.most, this.activeChildren.size);
          }
        }
        const server: AnyServer = new S([HOST, 0], Slow);
        let result: AnyServer;
        try {
          const loop = serveInBackground(server);
          try {
            result = await withClient((c) =>
              c.call({ op: 'concurrent', addr: server.serverAddress, n: 6, data: 'go\n', serverPid: process.pid }, 20000),
            );
          } finally {
            await loop.stop();
          }
        } finally {
          await server.serverClose();
        }
        expect(result.unanswered).to.equal(0);
        const pids = (result.replies as string[]).map((r) => Number(r.trim()));
        expect(new Set(pids).size, 'six children answered').to.equal(6);
        expect(result.samples, 'the process table was sampled').to.be.greaterThan(10);
        expect(result.maxChildren, 'children of the server process alive at once').to.be.within(1, 2);
        expect(server.most, 'largest activeChildren.size').to.equal(2);
        // Each child lived 250 ms: the outside observer saw every one of them, and nothing else.
        expect(result.seen, 'forked children seen in /proc').to.deep.equal([...pids].sort((a, b) => a - b));
        await server.waitExits(6);
        expect(server.activeChildren.size).to.equal(0);
      });

      it('no zombies after serverClose()', async () => {
        const server: AnyServer = new ForkingTCP([HOST, 0], sessionHandler());
        const pids: number[] = [];
        try {
          const loop = serveInBackground(server);
          try {
            await withClient(async (c) => {
              for (let i = 0; i < 5; i++) pids.push((await info(c, server.serverAddress)).pid);
            });
          } finally {
            await loop.stop();
          }
        } finally {
          await server.serverClose();
        }
        // The python client has exited and been reaped (withClient awaits its
        // 'exit' event): any child of ours in /proc now would be a fork.
        const kids = childrenOf(process.pid);
        expect(kids.filter((k) => k.state === 'Z'), 'zombie children').to.deep.equal([]);
        expect(kids.filter((k) => pids.includes(k.pid)), 'forked children still present').to.deep.equal([]);
        for (const p of pids) expect(procStat(p), `process ${p}`).to.equal(null);
      });

      it("never reaps children it did not start: a child_process child gets its 'exit' event (code 7) while serving", async () => {
        const server: AnyServer = new ForkingTCP([HOST, 0], sessionHandler());
        const running = (p: childProcess.ChildProcess): boolean => p.exitCode === null && p.signalCode === null;
        let exiter: childProcess.ChildProcess | undefined;
        let timed: childProcess.ChildProcess | undefined;
        let served = 0;
        try {
          // Exits with 7 once its stdin is closed; one more exits on its own timer.
          exiter = childProcess.spawn(
            process.execPath,
            ['-e', 'process.stdin.resume(); process.stdin.on("end", () => process.exit(7));'],
            { stdio: ['pipe', 'ignore', 'ignore'] },
          );
          timed = childProcess.spawn(process.execPath, ['-e', 'setTimeout(() => process.exit(9), 300)'], { stdio: 'ignore' });
          const exiterStatus = exitOf(exiter, 15000);
          const timedStatus = exitOf(timed, 15000);
          exiterStatus.catch(() => undefined);
          timedStatus.catch(() => undefined);
          const loop = serveInBackground(server);
          try {
            await withClient(async (c) => {
              for (let i = 0; i < 4; i++, served++) await info(c, server.serverAddress);
              exiter!.stdin!.end();
              // Serve until both exit events came (bounded), and a few more.
              for (let i = 0; i < 200 && (running(exiter!) || running(timed!)); i++, served++) {
                await info(c, server.serverAddress);
              }
              for (let i = 0; i < 3; i++, served++) await info(c, server.serverAddress);
            });
          } finally {
            await loop.stop();
          }
          expect(await exiterStatus).to.deep.equal([7, null]);
          expect(await timedStatus).to.deep.equal([9, null]);
        } finally {
          await server.serverClose();
          if (exiter) await killAndWait(exiter);
          if (timed) await killAndWait(timed);
        }
        await server.waitExits(served);
        expect(server.exits.every((e: Exit) => e[1] === 0)).to.equal(true);
        const ours = new Set(server.exits.map((e: Exit) => e[0]));
        expect(ours.has(exiter!.pid!) || ours.has(timed!.pid!), 'childExited() for a pid not ours').to.equal(false);
      });
    });

    describe("DESIGN.md's fork steps, observed", () => {
      before(needsFork);

      it("a child cannot accept on the parent's listening socket: new connections are the parent's, served by fresh children", async () => {
        const server: AnyServer = new ForkingTCP([HOST, 0], sessionHandler());
        const listenFd: number = server.fileno();
        const inode = (pid: number | 'self', fd: number): string | null => {
          try {
            return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
          } catch {
            return null;
          }
        };
        try {
          const loop = serveInBackground(server);
          try {
            await withClient(async (holder) => {
              // A child that stays alive, holding its connection.
              await holder.connect(1, server.serverAddress);
              await holder.send(1, 'pid\n');
              const first = JSON.parse(await holder.readline(1)) as Info;
              const listening = inode('self', listenFd);
              expect(listening).to.match(/^socket:\[\d+\]$/);
              // Step 5: the child's copy of that descriptor is not the listening socket.
              const inChild = inode(first.pid, listenFd);
              expect(inChild, "the child's descriptor of the listening socket's number").to.not.equal(listening);
              const childFds = fs.readdirSync(`/proc/${first.pid}/fd`).map((fd) => inode(first.pid, Number(fd)));
              expect(childFds, "no descriptor of the child is the parent's listening socket").to.not.include(listening);
              // README: no thread but the main one in the child.
              expect(fs.readdirSync(`/proc/${first.pid}/task`), "the child's threads").to.have.length(1);

              await withClient(async (c) => {
                const later: Info[] = [];
                for (let i = 0; i < 5; i++) later.push(await info(c, server.serverAddress));
                for (const r of later) {
                  expect(r.pid, 'not the held child').to.not.equal(first.pid);
                  expect(r.pid, 'not the parent').to.not.equal(process.pid);
                  expect(r.ppid, "a child of the server's process, not of the held child").to.equal(process.pid);
                }
                expect(new Set(later.map((r) => r.pid)).size, 'a fresh child each time').to.equal(5);
              });
              // The held child still serves its own connection only.
              await holder.send(1, 'again\n');
              const again = JSON.parse(await holder.readline(1)) as Info;
              expect(again.pid).to.equal(first.pid);
              await holder.send(1, 'bye\n');
              expect(await holder.readline(1)).to.equal('bye\n');
            });
          } finally {
            await loop.stop();
          }
        } finally {
          await server.serverClose();
        }
        await server.waitExits(6);
      });

      it('README: a file opened by the parent is inherited as it is; crypto.randomBytes() differs between children', async () => {
        const file = tmp.path('inherited');
        const fd = fs.openSync(file, 'a');
        const server: AnyServer = new ForkingTCP(
          [HOST, 0],
          sessionHandler(() => {
            fs.writeSync(fd, `${process.pid}\n`);
            return { random: crypto.randomBytes(16).toString('hex') };
          }),
        );
        const replies: Info[] = [];
        try {
          const loop = serveInBackground(server);
          try {
            await withClient(async (c) => {
              for (let i = 0; i < 3; i++) replies.push(await info(c, server.serverAddress));
            });
          } finally {
            await loop.stop();
          }
        } finally {
          await server.serverClose();
          fs.closeSync(fd);
        }
        const written = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
        expect(written).to.deep.equal(replies.map((r) => r.pid));
        expect(new Set(replies.map((r) => r.random)).size, 'randomBytes() in three children').to.equal(3);
      });

      it("a node:net server of the parent keeps its connections while children live (no child answers a probe)", async () => {
        // DESIGN.md step 5: without neutralising, a child's copy of the event
        // loop could accept on the parent's other listening sockets.
        const server: AnyServer = new ForkingTCP([HOST, 0], sessionHandler());
        const health = net.createServer((sock) => {
          sock.on('error', () => undefined);
          sock.end(`${realPid()}\n`);
        });
        try {
          await new Promise<void>((resolve) => health.listen(0, HOST, resolve));
          const healthAddr: Address = [HOST, (health.address() as net.AddressInfo).port];
          await withClient(async (holder) => {
            const pids: number[] = [];
            for (let i = 0; i < 3; i++) pids.push(await holdOne(server, holder, i));
            await withClient(async (c) => {
              for (let i = 0; i < 20; i++) {
                expect(Number(await c.exchange(healthAddr, '')), `probe ${i}`).to.equal(process.pid);
              }
            });
            for (let i = 0; i < 3; i++) await release(holder, i);
          });
        } finally {
          await server.serverClose();
          if (health.listening) await new Promise<void>((resolve) => health.close(() => resolve()));
        }
        expect(server.exits.map((e: Exit) => e[1])).to.deep.equal([0, 0, 0]);
      });

      it('ForkingUDPServer and ForkingUnixDatagramServer: a burst of datagrams, each answered by a child of its own', async () => {
        class Echo extends ss.DatagramRequestHandler {
          override async handle(): Promise<void> {
            const line = (await this.rfile.readline()).toString().trim();
            await this.wfile.write(`${line} ${process.pid}\n`);
          }
        }
        for (const [Cls, addr] of [
          [ss.ForkingUDPServer, [HOST, 0]],
          [ss.ForkingUnixDatagramServer, tmp.path('dgram-burst')],
        ] as Array<[typeof ss.TCPServer, Address]>) {
          const server: AnyServer = new (tracked(Cls))(addr, Echo);
          let replies: string[] = [];
          try {
            const loop = serveInBackground(server);
            try {
              replies = await withClient(
                async (c) => (await c.call({ op: 'dgram_burst', addr: server.serverAddress, n: 8, data: 'd', bind: tmp.path('burst-client') })).replies,
              );
            } finally {
              await loop.stop();
            }
          } finally {
            await server.serverClose();
          }
          const got = replies.map((r) => r.trim().split(' '));
          expect(got.map((g) => `${g[0]} ${g[1]}`), Cls.name).to.deep.equal([...Array(8).keys()].map((i) => `d ${i}`));
          const pids = got.map((g) => Number(g[2]));
          expect(new Set(pids).size, `${Cls.name}: a child per datagram`).to.equal(8);
          expect(pids, Cls.name).to.not.include(process.pid);
          expect(server.exits.map((e: Exit) => e[0]).sort(), Cls.name).to.deep.equal([...pids].sort());
          expect(server.activeChildren.size).to.equal(0);
        }
      });

      it('verifyRequest() false: no fork, the connection is closed', async () => {
        const Base = tracked(ss.ForkingTCPServer as unknown as typeof ss.TCPServer);
        class S extends Base {
          verifyRequest(): boolean {
            return false;
          }
        }
        const server: AnyServer = new S([HOST, 0], sessionHandler());
        try {
          await withClient(async (c) => {
            await c.connect(1, server.serverAddress);
            await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
            expect(await c.readall(1), 'EOF from the parent').to.equal('');
          });
          expect(server.activeChildren).to.equal(null);
        } finally {
          await server.serverClose();
        }
        expect(server.exits).to.deep.equal([]);
      });

      it('a busy ThreadingTCPServer and fs.promises work in the same process are not disturbed by forks (steps 1, 4, 8)', async () => {
        // Step 8: items the serve threads queued for the parent before a fork
        // are dropped in the child, so no child replays the parent's
        // requests; step 4: the parent's fs.promises keep completing.
        const marks = tmp.path('threading-marks');
        class Up extends ss.StreamRequestHandler {
          override async handle(): Promise<void> {
            const line = (await this.rfile.readline()).toString();
            fs.appendFileSync(marks, `${realPid()}\n`);
            await this.wfile.write(line.toUpperCase());
          }
        }
        const threading = new ss.ThreadingTCPServer([HOST, 0], Up, { requestQueueSize: 64 });
        const forking: AnyServer = new ForkingTCP([HOST, 0], sessionHandler());
        const readme = path.join(ROOT, 'package.json');
        try {
          const loops = [serveInBackground(threading), serveInBackground(forking)];
          try {
            const a = new RemoteClient();
            const b = new RemoteClient();
            try {
              // fs.promises reads, one after another, for as long as the forks go on.
              let fsDone = 0;
              let forksDone = false;
              const fsWork = (async () => {
                for (let i = 0; i < 100000 && !forksDone; i++) {
                  await fs.promises.readFile(readme);
                  fsDone++;
                }
              })();
              const [hammer, forked] = await Promise.all([
                a.call({ op: 'hammer', addr: threading.serverAddress, rounds: 10, n: 20, data: 'x' }, 30000),
                (async () => {
                  const out: Info[] = [];
                  for (let i = 0; i < 15; i++) out.push(await info(b, forking.serverAddress));
                  forksDone = true;
                  return out;
                })(),
                withTimeout(fsWork, 20000, 'fs.promises work'),
              ]);
              const expected: string[] = [];
              for (let r = 0; r < 10; r++) for (let i = 0; i < 20; i++) expected.push(`X ${r} ${i}\n`);
              expect(hammer.replies).to.deep.equal(expected);
              expect(forked.map((r) => r.line)).to.deep.equal(new Array(15).fill('pid'));
              expect(fsDone, 'fs.promises reads completed during the forks').to.be.greaterThan(15);
            } finally {
              await a.close();
              await b.close();
            }
          } finally {
            for (const l of loops) await l.stop();
          }
        } finally {
          await threading.serverClose();
          await forking.serverClose();
        }
        const pids = fs.readFileSync(marks, 'utf8').split('\n').filter(Boolean).map(Number);
        expect(pids).to.have.length(200);
        expect(pids.filter((p) => p !== process.pid), 'Threading requests handled by a child').to.deep.equal([]);
        await forking.waitExits(15);
        expect(forking.exits.every((e: Exit) => e[1] === 0 && e[2] === null)).to.equal(true);
      });

      it('two Forking servers in one process: each reaps its own children only', async () => {
        const a: AnyServer = new ForkingTCP([HOST, 0], sessionHandler());
        let b: AnyServer;
        try {
          b = new (tracked(ss.ForkingUnixStreamServer as unknown as typeof ss.TCPServer))(tmp.path('two'), sessionHandler());
          await withClient(async (c) => {
            const pa = await holdOne(a, c, 1);
            const pb = await holdOne(b, c, 2);
            expect([...a.activeChildren]).to.deep.equal([pa]);
            expect([...b.activeChildren]).to.deep.equal([pb]);
            await release(c, 2);
            await b.waitExits(1);
            expect(b.exits).to.deep.equal([[pb, 0, null]]);
            expect(a.exits).to.deep.equal([]);
            expect([...a.activeChildren]).to.deep.equal([pa]);
            await a.collectChildren();
            expect([...a.activeChildren], "a's child is still running").to.deep.equal([pa]);
            await release(c, 1);
            await a.waitExits(1);
            expect(a.exits).to.deep.equal([[pa, 0, null]]);
          });
        } finally {
          await a.serverClose();
          await b?.serverClose();
        }
      });

      // Known limitation (README "Forking"): a Worker's isolate can hold
      // cppgc's process-wide mutex at fork() time, and Node offers no way to
      // reach other isolates to park them as the platform workers are, so a
      // child can hang on its first full GC until childTimeout kills it.
      // Kept, pending, to be turned on when forking quiesces Workers.
      it.skip('forks while a worker_threads Worker runs (and collects garbage): no child hangs', async function () {
        // README: "worker threads of the parent do not exist in the child".
        // The server runs in a process of its own (node --expose-gc), whose
        // Worker runs full GCs back to back; each child runs one full GC.
        // A child that inherits a lock the Worker held at fork() time hangs
        // until the watchdog (childTimeout 2) kills it with SIGALRM.
        const script = `
          const { Worker } = require('node:worker_threads');
          const ss = require(${JSON.stringify(distFile)});
          const worker = new Worker(
            "const { parentPort } = require('node:worker_threads');" +
            "let stop = false; parentPort.on('message', () => { stop = true; parentPort.close(); });" +
            "function spin() { for (let i = 0; i < 5; i++) gc(); if (!stop) setImmediate(spin); }" +
            "parentPort.postMessage('ready'); spin();",
            { eval: true },
          );
          class H extends ss.StreamRequestHandler {
            async handle() {
              await this.rfile.readline();
              gc();
              await this.wfile.write(process.pid + '\\n');
            }
          }
          class S extends ss.ForkingTCPServer {
            static childTimeout = 2;
            static maxChildren = 10;
            childExited(pid, code, signal) { console.log('exited', pid, code, signal); }
          }
          worker.once('message', () => {
            const server = new S(['127.0.0.1', 0], H);
            const loop = server.serveForever(0.05);
            console.log('port', server.serverAddress[1]);
            process.stdin.resume();
            process.stdin.on('end', async () => {
              await server.shutdown();
              await loop;
              await server.serverClose();
              worker.postMessage('stop');
              await worker.terminate();
              console.log('done');
            });
          });
        `;
        const proc = childProcess.spawn(process.execPath, ['--expose-gc', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        const port = deferred<number>();
        proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          const m = /^port (\d+)$/m.exec(out);
          if (m) port.resolve(Number(m[1]));
        });
        proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
          err += d;
        });
        const status = exitOf(proc, 60000);
        status.catch(() => undefined);
        const N = 10;
        const replies: string[] = [];
        try {
          const p = await withTimeout(port.promise, 15000, 'the server to print its port');
          const socks = await Promise.all([...Array(N).keys()].map(() => connect([HOST, p])));
          try {
            // Readers first: a killed child may reset its connection at once.
            const answers = socks.map((s) =>
              readToEnd(s, 20000).then(
                (b) => b.toString().trim(),
                (e: { code?: string; message?: string }) => `error ${e.code ?? e.message}`,
              ),
            );
            for (const s of socks) s.write('x\n');
            replies.push(...(await Promise.all(answers)));
          } finally {
            for (const s of socks) s.destroy();
          }
          proc.stdin!.end();
          expect(await status, err).to.deep.equal([0, null]);
        } finally {
          await killAndWait(proc);
        }
        const exits = [...out.matchAll(/^exited (\d+) (\S+) (\S+)$/gm)].map((m) => `${m[2]} ${m[3]}`);
        expect(out).to.match(/^done$/m);
        expect(exits.filter((e) => e !== '0 null'), 'children that did not exit with status 0 (14: SIGALRM, hung)').to.deep.equal([]);
        expect(exits).to.have.length(N);
        expect(replies.filter((r) => !/^\d+$/.test(r)), 'requests left unanswered').to.deep.equal([]);
      });

      it('process.pid is fixed in the child; process.ppid is the parent', async () => {
        const server: AnyServer = new ForkingTCP([HOST, 0], sessionHandler(() => ({ statPid: Number(fs.readFileSync('/proc/self/stat', 'utf8').split(' ')[0]) })));
        try {
          await withClient(async (c) => {
            const reply = c.exchange(server.serverAddress, 'pid\n', true);
            await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
            const r = JSON.parse(await reply) as Info;
            expect(r.pid).to.equal(r.real);
            expect(r.pid).to.equal(r.statPid);
            expect(r.pid).to.not.equal(process.pid);
            expect(r.ppid).to.equal(process.pid);
            await server.waitExits(1);
            expect(server.exits[0][0]).to.equal(r.pid);
          });
        } finally {
          await server.serverClose();
        }
      });

      it("the parent's JS timers still fire in the child (documented behaviour)", async () => {
        const marks = tmp.path('timer-marks');
        const parentPid = process.pid;
        const parentFired = deferred();
        const server: AnyServer = new ForkingTCP([HOST, 0], sessionHandler());
        let timer: NodeJS.Timeout | undefined;
        try {
          await withClient(async (c) => {
            await c.connect(1, server.serverAddress);
            await c.send(1, 'pid\n');
            // Armed right before the fork: the child inherits it.
            timer = setTimeout(() => {
              const me = realPid();
              fs.appendFileSync(marks, `${me}\n`);
              if (me === parentPid) parentFired.resolve();
            }, 300);
            await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
            const pid = (JSON.parse(await c.readline(1)) as Info).pid;
            await withTimeout(parentFired.promise, 5000, "the parent's timer");
            // The child writes the file: observed from outside, bounded.
            const lines = (): number[] =>
              (fs.existsSync(marks) ? fs.readFileSync(marks, 'utf8') : '').split('\n').filter(Boolean).map(Number);
            await until(() => lines().includes(pid), "the child's copy of the timer to fire", 5000);
            expect(lines().sort()).to.deep.equal([parentPid, pid].sort());
            await c.send(1, 'bye\n');
            expect(await c.readline(1)).to.equal('bye\n');
          });
        } finally {
          clearTimeout(timer);
          await server.serverClose();
        }
      });

      it("a child's console output reaches the parent's stdout and stderr; the child runs none of the parent's code after it", async () => {
        const script = `
          const ss = require(${JSON.stringify(distFile)});
          class H extends ss.StreamRequestHandler {
            async handle() {
              const line = (await this.rfile.readline()).toString().trim();
              console.log('child-says', process.pid, line);
              console.error('child-warns', process.pid);
              await this.wfile.write('ok\\n');
            }
          }
          class S extends ss.ForkingTCPServer {
            childExited(pid, code, signal) { console.log('exited', pid, code, signal); }
          }
          const real = () => Number(require('node:fs').readlinkSync('/proc/self'));
          // Shutdown code of the parent: must not run in a child.
          process.on('exit', () => console.log('exit-handler', real()));
          const server = new S(['127.0.0.1', 0], H);
          console.log('port', server.serverAddress[1]);
          (async () => {
            await server.handleRequest();
            // The child never returns into the parent's code.
            console.log('after-handleRequest', real());
            await server.serverClose();
            console.log('parent', process.pid);
          })();
        `;
        const proc = childProcess.spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        const port = deferred<number>();
        proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          const m = /^port (\d+)$/m.exec(out);
          if (m) port.resolve(Number(m[1]));
        });
        proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
          err += d;
        });
        const status = exitOf(proc, 20000);
        status.catch(() => undefined);
        try {
          const p = await withTimeout(port.promise, 15000, 'the server to print its port');
          const s = await connect([HOST, p]);
          try {
            const r = new SockReader(s);
            s.write('hello\n');
            expect((await r.readLine()).toString()).to.equal('ok\n');
          } finally {
            s.destroy();
          }
          expect(await status).to.deep.equal([0, null]);
        } finally {
          await killAndWait(proc);
        }
        const parent = Number(/^parent (\d+)$/m.exec(out)?.[1]);
        expect(parent).to.equal(proc.pid);
        const said = /^child-says (\d+) hello$/m.exec(out);
        expect(said, `stdout: ${out}`).to.not.equal(null);
        const child = Number(said![1]);
        expect(child).to.not.equal(parent);
        expect(out).to.match(new RegExp(`^exited ${child} 0 null$`, 'm'));
        expect(err).to.match(new RegExp(`^child-warns ${child}$`, 'm'));
        // DESIGN.md step 6: the child ends with _exit(): no return into the
        // caller's code, no exit handlers.
        expect(out.match(/^after-handleRequest \d+$/gm)).to.deep.equal([`after-handleRequest ${parent}`]);
        expect(out.match(/^exit-handler \d+$/gm)).to.deep.equal([`exit-handler ${parent}`]);
      });
    });
  });
}
