/**
 * ForkingMixIn where fork() is not available (API.md "Mix-ins"): in a
 * worker thread, and on a transport that cannot fork, the Forking classes
 * are refused at construction with ERR_SOCKETSERVER_UNSUPPORTED and leak
 * nothing. fork-helpers.ts says how the fork tests observe a child.
 */
import { expect } from 'chai';
import { Worker } from 'node:worker_threads';

import { Address, fdCount, HOST, TempDir, transports, withTimeout } from './helpers';
import { AnyServer, forkKit } from './fork-helpers';

for (const { name, ss, caps, cjs: distFile } of transports) {
  describe(`ForkingMixIn (${name})`, function () {
    this.timeout(30000);
    const tmp = new TempDir('ss-fork-');
    after(() => tmp.cleanup());
    const { canFork } = forkKit(ss, caps);

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
  });
}
