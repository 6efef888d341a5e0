// Issue 5, life cycle: servers inside worker threads that are terminated
// while serving, processes that exit with servers open, and use after
// serverClose().
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import * as net from 'node:net';
import { Worker } from 'node:worker_threads';

import { fdCount, HOST, ROOT, transports, withTimeout } from './helpers';

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

function request(port: number, line: string, opts: { end?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, HOST, () => (opts.end === false ? s.write(line) : s.end(line)));
    let got = '';
    s.on('data', (d: Buffer) => { got += d.toString(); });
    s.on('error', reject);
    s.on('close', () => resolve(got));
  });
}

/** Waits (bounded) until the process's descriptor count is back to `baseline`. */
async function fdsBackTo(baseline: number): Promise<number> {
  let now = fdCount();
  for (let i = 0; i < 50 && now > baseline; i++) {
    await new Promise((r) => setImmediate(r));
    now = fdCount();
  }
  return now;
}

for (const { name, ss } of transports) {
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

    it('process.exit() with a server serving (and one never served) exits at once, status 0', async () => {
      const script = `
        const lib = require(${JSON.stringify(entry)});
        const a = new lib.TCPServer(['127.0.0.1', 0], lib.StreamRequestHandler);
        const b = new lib.ThreadingTCPServer(['127.0.0.1', 0], lib.StreamRequestHandler);
        a.serveForever(10);
        b.serveForever(10);
        setTimeout(() => process.exit(0), 50);
      `;
      const started = Date.now();
      await withTimeout(
        new Promise<void>((resolve, reject) =>
          execFile(process.execPath, ['-e', script], { timeout: 10_000 }, (error) => (error ? reject(error) : resolve())),
        ),
        12_000,
        'the process to exit',
      );
      expect(Date.now() - started).to.be.below(8000);
    });

    it('a server that is not serving keeps no process alive', async () => {
      const script = `
        const lib = require(${JSON.stringify(entry)});
        const a = new lib.TCPServer(['127.0.0.1', 0], lib.StreamRequestHandler);
        const b = new lib.UDPServer(['127.0.0.1', 0], lib.DatagramRequestHandler);
        a.handleRequest;  // constructed, bound, listening, never served, never closed
      `;
      await withTimeout(
        new Promise<void>((resolve, reject) =>
          execFile(process.execPath, ['-e', script], { timeout: 10_000 }, (error) => (error ? reject(error) : resolve())),
        ),
        12_000,
        'the process to exit by itself',
      );
    });

    it('after serverClose(): serveForever() and handleRequest() reject with ERR_SOCKETSERVER_CLOSED', async () => {
      const server = new ss.TCPServer([HOST, 0], ss.StreamRequestHandler);
      await server.serverClose();
      const a = await server.serveForever(0.01).then(() => null, (e: NodeJS.ErrnoException) => e);
      const b = await server.handleRequest().then(() => null, (e: NodeJS.ErrnoException) => e);
      expect(a?.code).to.equal('ERR_SOCKETSERVER_CLOSED');
      expect(b?.code).to.equal('ERR_SOCKETSERVER_CLOSED');
    });

    it('serveForever() twice at once: the second rejects with ERR_SOCKETSERVER_BUSY, the first serves on', async () => {
      const server = new ss.TCPServer([HOST, 0], class extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          await this.wfile.write((await this.rfile.readline()).toString().toUpperCase());
        }
      });
      try {
        const first = server.serveForever(0.05);
        const second = await server.serveForever(0.05).then(() => null, (e: NodeJS.ErrnoException) => e);
        expect(second?.code).to.equal('ERR_SOCKETSERVER_BUSY');
        expect(await request((server.serverAddress as [string, number])[1], 'still\n')).to.equal('STILL\n');
        await server.shutdown();
        await first;
      } finally {
        await server.serverClose();
      }
    });
  });
}
