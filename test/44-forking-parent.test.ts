/**
 * ForkingMixIn, the parent (API.md "Mix-ins"): handleRequest() forks and
 * returns; maxChildren, blockOnClose, collectChildren() and childExited();
 * no zombies, and no reaping of children it did not start. fork-helpers.ts
 * says how the fork tests observe a child.
 */
import { expect } from 'chai';
import * as childProcess from 'node:child_process';

import { HOST, serveInBackground, TempDir, transports, turns, withTimeout } from './helpers';
import { childrenOf, exitOf, killAndWait, procStat, withClient } from './proc-helpers';
import { AnyServer, Exit, forkKit, holdOne, Info, info, release, tracked, work } from './fork-helpers';

for (const { name, ss, caps } of transports) {
  describe(`ForkingMixIn (${name})`, function () {
    this.timeout(30000);
    const tmp = new TempDir('ss-fork-');
    after(() => tmp.cleanup());
    const { needsFork, sessionHandler, ForkingTCP } = forkKit(ss, caps);

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
  });
}
