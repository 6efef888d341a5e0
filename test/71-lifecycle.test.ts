// Issue 5, life cycle: processes that exit with servers open, and use after
// serverClose(). Servers inside worker threads that are terminated while
// serving: 71-worker-threads.
import { expect } from 'chai';
import { execFile } from 'node:child_process';

import { HOST, ROOT, transports, withTimeout } from './helpers';
import { request } from './lifecycle-helpers';

for (const { name, ss } of transports) {
  const entry = `${ROOT}/dist/${name === 'js' ? 'js' : 'index'}.js`;

  describe(`life cycle (${name})`, function () {
    this.timeout(30_000);

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
