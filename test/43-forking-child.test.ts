/**
 * ForkingMixIn, the child (DESIGN.md "Fork"): the handler runs in a process
 * of its own, whose state does not reach the parent; childTimeout kills it;
 * its exit status tells how the handler ended. fork-helpers.ts says how the
 * fork tests observe a child.
 */
import { expect } from 'chai';

import { HOST, serveInBackground, TempDir, transports, withTimeout } from './helpers';
import { realPid, withClient } from './proc-helpers';
import { AnyServer, Exit, forkKit, Info, info, SIGALRM, tracked } from './fork-helpers';

for (const { name, ss, caps } of transports) {
  describe(`ForkingMixIn (${name})`, function () {
    this.timeout(30000);
    const tmp = new TempDir('ss-fork-');
    after(() => tmp.cleanup());
    const { needsFork, sessionHandler, ForkingTCP } = forkKit(ss, caps);

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
  });
}
