// Issue 5, life cycle: servers inside worker threads that are terminated
// while serving. 71-lifecycle has the rest of the life cycle.
import { expect } from 'chai';
import * as net from 'node:net';
import { Worker } from 'node:worker_threads';

import { fdCount, HOST, ROOT, transports, withTimeout } from './helpers';
import { request } from './lifecycle-helpers';

const WORKER = `
const { parentPort, workerData } = require('worker_threads');
const lib = require(workerData.entry);
class H extends lib.StreamRequestHandler {
  async handle() {
    const line = await this.rfile.readline();
    await this.wfile.write(line.toString().trim().toUpperCase());
  }
}
const server = new lib[workerData.cls](['127.0.0.1', 0], H);
parentPort.postMessage(server.serverAddress[1]);
server.serveForever(workerData.pollInterval);
`;

/** Waits (bounded) until the process's descriptor count is back to `baseline`. */
async function fdsBackTo(baseline: number): Promise<number> {
  let now = fdCount();
  for (let i = 0; i < 50 && now > baseline; i++) {
    await new Promise((r) => setImmediate(r));
    now = fdCount();
  }
  return now;
}

for (const { name } of transports) {
  const entry = `${ROOT}/dist/${name === 'js' ? 'js' : 'index'}.js`;

  describe(`life cycle (${name})`, function () {
    this.timeout(30_000);

    for (const cls of ['TCPServer', 'ThreadingTCPServer']) {
      it(`worker.terminate() while a ${cls} in the worker serves: no crash, nothing leaked (5 times)`, async () => {
        // Count from after a first round: the process's first Worker, and
        // its first stream handle (libuv opens its loop's EMFILE reserve,
        // /dev/null, at the first one), open descriptors that stay.
        const warm = new Worker(WORKER, { eval: true, workerData: { entry, cls, pollInterval: 10 } });
        const warmPort = await withTimeout(new Promise<number>((r) => warm.once('message', r)), 10_000, 'worker ready');
        expect(await request(warmPort, 'warm\n')).to.equal('WARM');
        await warm.terminate();
        const baseline = await fdsBackTo(fdCount());
        for (let round = 0; round < 5; round++) {
          const worker = new Worker(WORKER, { eval: true, workerData: { entry, cls, pollInterval: 10 } });
          try {
            const port = await withTimeout(new Promise<number>((r) => worker.once('message', r)), 10_000, 'worker ready');
            expect(await request(port, `round ${round}\n`)).to.equal(`ROUND ${round}`);
            if (round % 2 === 1) {
              // A request in flight: the handler waits for a line that never comes.
              const hanging = new net.Socket();
              await new Promise<void>((r) => hanging.connect(port, HOST, () => r()));
              hanging.on('error', () => {});
              await withTimeout(worker.terminate(), 10_000, 'terminate');
              hanging.destroy();
            } else {
              await withTimeout(worker.terminate(), 10_000, 'terminate');
            }
          } finally {
            await worker.terminate();
          }
        }
        expect(await fdsBackTo(baseline), 'descriptors after the workers are gone').to.be.at.most(baseline);
      });
    }
  });
}
