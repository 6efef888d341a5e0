/** Port of CPython's SocketWriterTest (StreamRequestHandler.wfile). */
import { expect } from 'chai';

import { closed, connect, deferred, HOST, SockReader, transports, withTimeout } from './helpers';

const SOCK_MAX_SIZE = 16 * 1024 * 1024; // test.support.SOCK_MAX_SIZE

for (const { name, ss } of transports) {
  describe(`SocketWriterTest (${name})`, () => {
    it('test_basics: wfile is a writer on the request socket', async () => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const seen: { wfile?: any; wfileFileno?: number; requestFileno?: number } = {};
      class Handler extends ss.StreamRequestHandler {
        override handle(): void {
          seen.wfile = this.wfile;
          seen.wfileFileno = this.wfile.fileno();
          seen.requestFileno = (this.request as { fileno(): number }).fileno();
        }
      }
      const server = new ss.TCPServer([HOST, 0], Handler);
      try {
        const c = await connect(server.serverAddress as [string, number]);
        c.end();
        await withTimeout(server.handleRequest(), 5000, 'handleRequest()');
        c.destroy();
        await closed(c);
        // Python: assertIsInstance(server.wfile, io.BufferedIOBase)
        for (const m of ['write', 'flush', 'close', 'fileno']) expect(seen.wfile[m], m).to.be.a('function');
        expect(seen.wfileFileno).to.be.a('number').and.greaterThan(-1);
        expect(seen.wfileFileno).to.equal(seen.requestFileno);
      } finally {
        await server.serverClose();
      }
    });

    it('test_write: write() sends at once, and a 16 MiB write is not truncated by a signal', async function () {
      this.timeout(30000);
      const got: { sent1?: number; received?: Buffer; sent2?: number } = {};
      class Handler extends ss.StreamRequestHandler {
        override async handle(): Promise<void> {
          got.sent1 = await this.wfile.write(Buffer.from('write data\n'));
          // Should be sent immediately, without requiring flush()
          got.received = await this.rfile.readline();
          const bigChunk = Buffer.alloc(SOCK_MAX_SIZE);
          got.sent2 = await this.wfile.write(bigChunk);
        }
      }
      const server = new ss.TCPServer([HOST, 0], Handler);
      let interrupted = deferred<void>();
      let signals = 0;
      const onSignal = (): void => {
        signals++;
        interrupted.resolve();
      };
      process.on('SIGUSR2', onSignal);
      try {
        const serving = server.handleRequest();
        serving.catch(() => undefined);
        const c = await connect(server.serverAddress as [string, number]);
        let response1: Buffer;
        let received2: number;
        try {
          const reader = new SockReader(c);
          response1 = await reader.readLine();
          c.write('client response\n');
          await reader.waitBuffered(100, 10000);
          await reader.readExactly(100);
          // The server should now be blocked sending; interrupt it with a
          // signal, a bounded number of times until one is delivered.
          c.pause();
          for (let i = 0; i < 20 && signals === 0; i++) {
            interrupted = deferred<void>();
            process.kill(process.pid, 'SIGUSR2');
            try {
              await withTimeout(interrupted.promise, 1000, 'SIGUSR2 delivery');
            } catch {
              /* try again */
            }
          }
          expect(signals).to.be.greaterThan(0);
          c.resume();
          received2 = (await reader.readToEnd(20000)).length;
          await withTimeout(serving, 10000, 'handleRequest()');
        } finally {
          c.destroy();
        }
        expect(response1.toString()).to.equal('write data\n');
        expect(got.sent1).to.equal(response1.length);
        expect(got.received?.toString()).to.equal('client response\n');
        expect(got.sent2).to.equal(SOCK_MAX_SIZE);
        expect(received2).to.equal(SOCK_MAX_SIZE - 100);
      } finally {
        process.off('SIGUSR2', onSignal);
        await server.serverClose();
      }
    });
  });
}
