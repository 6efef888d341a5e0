// Issue 11, item 3: server.drain(timeout). It stops taking requests, lets
// those in flight finish for at most `timeout` seconds, then closes what is
// left and the server, and says how many finished and how many it cut
// short. Every wait is bounded; the handlers say where they are.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { connect, fdCount, fdsBackTo, HOST, ROOT, SockReader, targetOf, transports, turns, withTimeout } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const run = promisify(execFile);
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'worker-handlers.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Commands } = require(FIXTURE) as { Commands: Any };

/** A connection whose request is 'slow': answered WAITING, then SLOW once it gets a second line. */
async function slow(target: Any): Promise<{ sock: net.Socket; reader: SockReader; go(): void; rest(): Promise<string> }> {
  const sock = await connect(target);
  const reader = new SockReader(sock);
  sock.write('slow\n');
  expect((await withTimeout(reader.readLine(), 10_000, 'WAITING')).toString().trim()).to.equal('WAITING');
  return {
    sock,
    reader,
    go: () => sock.write('go\n'),
    rest: async () => (await withTimeout(reader.readToEnd(10_000), 10_000, 'the rest')).toString(),
  };
}

/** Resolves with the error code of a connection attempt, or 'connected'. */
function tryConnect(target: Any): Promise<string> {
  return new Promise((resolve) => {
    const sock = Array.isArray(target) ? net.connect(target[1], target[0]) : net.connect(target);
    sock.on('connect', () => {
      sock.destroy();
      resolve('connected');
    });
    sock.on('error', (e: Any) => resolve(e.code));
  });
}

describe('84 drain(timeout)', function () {
  this.timeout(30_000);

  for (const t of transports) {
    const ss = t.ss as Any;
    describe(`${t.name} transport`, () => {
      it('a synchronous TCPServer: the request in flight finishes within the timeout; serveForever() resolves; then connections are refused', async () => {
        const server = new ss.TCPServer([HOST, 0], Commands);
        const target = targetOf(server);
        const loop = server.serveForever(0.05);
        const c = await slow(target);
        let drained: Any = null;
        const draining = server.drain(10).then((r: Any) => { drained = r; });
        // Still draining while the request waits for its client.
        await turns(50);
        expect(drained).to.equal(null);
        c.go();
        expect(await c.rest()).to.equal('SLOW\n');
        await withTimeout(draining, 10_000, 'drain');
        expect(drained).to.deep.equal({ finished: 1, aborted: 0 });
        await withTimeout(loop, 1000, 'serveForever() resolved when drain() did');
        expect(server.socket.closed).to.equal(true);
        expect(await tryConnect(target)).to.equal('ECONNREFUSED');
        c.sock.destroy();
      });

      it('the timeout expires: the request is closed (the client sees EOF) and counted as aborted', async () => {
        const server = new ss.TCPServer([HOST, 0], Commands);
        server.handleError = () => undefined;  // the cut request's handler fails: expected
        const loop = server.serveForever(0.05);
        const c = await slow(targetOf(server));
        const t0 = performance.now();
        expect(await withTimeout(server.drain(0.3), 10_000, 'drain')).to.deep.equal({ finished: 0, aborted: 1 });
        expect(performance.now() - t0).to.be.within(250, 5000);
        expect(await c.rest()).to.equal('');
        await withTimeout(loop, 1000, 'serveForever()');
        c.sock.destroy();
      });

      it('ThreadingTCPServer: of three requests in flight, two finish in time and one is cut short', async () => {
        const server = new ss.ThreadingTCPServer([HOST, 0], Commands);
        server.handleError = () => undefined;
        const loop = server.serveForever(0.05);
        const cs = [await slow(targetOf(server)), await slow(targetOf(server)), await slow(targetOf(server))];
        const draining = server.drain(0.5);
        cs[0].go();
        cs[1].go();
        expect(await cs[0].rest()).to.equal('SLOW\n');
        expect(await cs[1].rest()).to.equal('SLOW\n');
        expect(await withTimeout(draining, 10_000, 'drain')).to.deep.equal({ finished: 2, aborted: 1 });
        expect(await cs[2].rest()).to.equal('');
        await withTimeout(loop, 1000, 'serveForever()');
        for (const c of cs) c.sock.destroy();
      });

      it('nothing in flight, and no loop running: it closes the server and reports zeros', async () => {
        const server = new ss.TCPServer([HOST, 0], Commands);
        expect(await server.drain(null)).to.deep.equal({ finished: 0, aborted: 0 });
        expect(server.socket.closed).to.equal(true);
      });

      it('a bad timeout: TypeError or RangeError; a second drain() at once: ERR_SOCKETSERVER_BUSY', async () => {
        const server = new ss.TCPServer([HOST, 0], Commands);
        try {
          for (const [timeout, code] of [['1', 'ERR_INVALID_ARG_TYPE'], [-1, 'ERR_OUT_OF_RANGE'], [NaN, 'ERR_OUT_OF_RANGE']] as const) {
            let thrown: Any;
            try {
              await server.drain(timeout);
            } catch (e) {
              thrown = e;
            }
            expect(thrown?.code, String(timeout)).to.equal(code);
          }
          const first = server.drain(1);
          let thrown: Any;
          try {
            await server.drain(1);
          } catch (e) {
            thrown = e;
          }
          expect(thrown?.code).to.equal('ERR_SOCKETSERVER_BUSY');
          await first;
        } finally {
          await server.serverClose();
        }
      });
    });
  }

  describe('worker threads (native)', () => {
    const ss = transports.find((t) => t.name === 'native')!.ss as Any;

    it('requests in workers: one finishes in time, one is cut short when its workers end; descriptors and threads back', async () => {
      const fds = fdCount();
      const server = new ss.ThreadingTCPServer([HOST, 0], Commands, { workerThreads: 2 });
      const loop = server.serveForever(0.05);
      await withTimeout(server._workerPool().start(), 20_000, 'workers ready');
      const a = await slow(targetOf(server));
      const b = await slow(targetOf(server));
      const draining = server.drain(0.5);
      a.go();
      expect(await a.rest()).to.equal('SLOW\n');
      expect(await withTimeout(draining, 10_000, 'drain')).to.deep.equal({ finished: 1, aborted: 1 });
      expect(await b.rest()).to.equal('');
      await withTimeout(loop, 1000, 'serveForever()');
      a.sock.destroy();
      b.sock.destroy();
      expect(server._workerPool().threadIds).to.deep.equal([]);
      await fdsBackTo(fds, 'descriptors after drain()');
    });
  });

  describe('ForkingTCPServer (in a process of its own)', () => {
    it('one child finishes in time, the other is killed when the timeout expires; both reaped', async function () {
      if (process.platform !== 'linux') this.skip();
      const { stdout } = await run(process.execPath, [path.join(ROOT, 'test', 'fixtures', 'drain-forking.js')], { timeout: 20_000 });
      const r = JSON.parse(stdout.trim());
      expect(r.children).to.equal(2);
      expect(r.result).to.deep.equal({ finished: 1, aborted: 1 });
      expect(r.left).to.equal(0);
      expect(r.quick).to.equal('STARTED\nDONE\n');
      expect(r.stuck).to.equal('STARTED\n');
      expect(r.ms).to.be.within(400, 10_000);
    });
  });
});
